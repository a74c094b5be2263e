package remote

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"
)

const (
	defaultMaxAttempts     = 10
	defaultResponseTimeout = 2 * time.Minute
	// minPartSize is the multipart part size of an S3 upload: big enough
	// to keep the request count low, small enough that the concurrent
	// part buffers (5 by default) stay within tens of MiB.
	minPartSize = 8 << 20
	// maxParts is S3's limit of parts in one upload.
	maxParts = 10000
)

// openS3 opens an S3 bucket the way s3blob's URL opener does, with our
// retryer and HTTP timeouts: the opener's retryer gives up after 3 attempts,
// too few for a multi-GiB upload over a flaky link.
func openS3(ctx context.Context, bucket string, q url.Values, opts Options) (*blob.Bucket, error) {
	var s3opts []func(*s3.Options)
	var bopts s3blob.Options
	for _, k := range []string{"use_path_style", "s3ForcePathStyle", "disable_https", "accelerate"} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		q.Del(k)
		on, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("invalid value for %q: %w", k, err)
		}
		switch k {
		case "disable_https":
			s3opts = append(s3opts, func(o *s3.Options) { o.EndpointOptions.DisableHTTPS = on })
		case "accelerate":
			s3opts = append(s3opts, func(o *s3.Options) { o.UseAccelerate = on })
		default:
			s3opts = append(s3opts, func(o *s3.Options) { o.UsePathStyle = on })
		}
	}
	if v := q.Get("ssetype"); v != "" {
		q.Del("ssetype")
		bopts.EncryptionType = types.ServerSideEncryption(v)
	}
	if v := q.Get("kmskeyid"); v != "" {
		q.Del("kmskeyid")
		bopts.KMSEncryptionID = v
	}
	// As in gocloud: no client-side retry quota unless asked for, so a burst
	// of failures cannot use up the retries of a long upload.
	var limiter retry.RateLimiter = ratelimit.None
	if v := q.Get("rate_limiter_capacity"); v != "" {
		n, err := strconv.ParseUint(v, 10, 31)
		if err != nil {
			return nil, fmt.Errorf("invalid value for %q: %w", "rate_limiter_capacity", err)
		}
		limiter = ratelimit.NewTokenRateLimit(uint(n))
	}
	cfg, err := gcaws.V2ConfigFromURLParams(ctx, q)
	if err != nil {
		return nil, err
	}
	attempts := opts.MaxAttempts
	if attempts <= 0 {
		attempts = defaultMaxAttempts
	}
	backoff := opts.MaxBackoff
	if backoff <= 0 {
		backoff = 20 * time.Second
	}
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = attempts
			so.MaxBackoff = backoff
			so.RateLimiter = limiter
		})
	}
	cfg.HTTPClient = httpClient(opts.ResponseTimeout)
	// The SDK logs to stderr on its own (e.g. "Response has no supported
	// checksum" from S3-compatible servers); the stored SHA-256 is what we
	// check.
	cfg.Logger = logging.Nop{}
	bopts.RequestChecksumCalculation = cfg.RequestChecksumCalculation
	return s3blob.OpenBucket(ctx, s3.NewFromConfig(cfg, s3opts...), bucket, &bopts)
}

// httpClient bounds the connection set-up and the wait for a response, never
// the transfer of a body, which may take hours.
func httpClient(responseTimeout time.Duration) *http.Client {
	if responseTimeout <= 0 {
		responseTimeout = defaultResponseTimeout
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 30 * time.Second
	t.ResponseHeaderTimeout = responseTimeout
	t.ExpectContinueTimeout = 2 * time.Second
	t.MaxIdleConnsPerHost = 16
	return &http.Client{Transport: t}
}

// partSize is the multipart part size of an S3 upload of size bytes (-1:
// unknown): minPartSize, or more when size needs more than maxParts parts.
func (s *Store) partSize(size int64) int {
	if s.scheme != s3blob.Scheme {
		return 0 // GCS chunks and directory writes keep their defaults
	}
	p := int64(minPartSize)
	if size > p*(maxParts-100) {
		p = (size/(maxParts-100) + 1<<20) &^ (1<<20 - 1) // whole MiB
	}
	return int(p)
}

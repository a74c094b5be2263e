package remote

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"net/url"

	"gocloud.dev/blob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/gcp"
)

// openGCS opens a GCS bucket with the Application Default Credentials, or
// anonymously for an emulator (STORAGE_EMULATOR_HOST) or with
// ?anonymous=true. gcsblob's URL opener is not used: without credentials
// it prints a warning to stdout, which is the command's output.
func openGCS(ctx context.Context, bucket string, q url.Values) (*blob.Bucket, error) {
	anonymous := os.Getenv("STORAGE_EMULATOR_HOST") != ""
	for k, vs := range q {
		switch k {
		case "anonymous":
			on, err := strconv.ParseBool(vs[0])
			if err != nil {
				return nil, fmt.Errorf("invalid value for %q: %w", k, err)
			}
			anonymous = anonymous || on
		default:
			return nil, fmt.Errorf("unknown query parameter %q (gs:// takes only anonymous=true)", k)
		}
	}
	var client *gcp.HTTPClient
	if anonymous {
		client = gcp.NewAnonymousHTTPClient(gcp.DefaultTransport())
	} else {
		creds, err := gcp.DefaultCredentials(ctx)
		if err != nil {
			return nil, fmt.Errorf("no Google credentials (set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or run where Application Default Credentials exist): %w", err)
		}
		client, err = gcp.NewHTTPClient(gcp.DefaultTransport(), gcp.CredentialsTokenSource(creds))
		if err != nil {
			return nil, err
		}
	}
	return gcsblob.OpenBucket(ctx, client, bucket, nil)
}

package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// Host is the running server as the admin socket needs it.
type Host interface {
	// Use runs fn with the server's database, counted as a request in
	// flight; it fails with chat.EUNAVAILABLE during maintenance.
	Use(ctx context.Context, fn func(db *sqldb.DB) error) error
	// Maintain pauses the server (new requests answer 503, WebSockets
	// close with 1012, requests in flight finish), closes the database,
	// runs fn, reopens the database at the same path and resumes. It
	// fails without running fn when the server cannot be paused.
	Maintain(ctx context.Context, fn func(ctx context.Context) error) error
}

// NewHandler returns the admin socket's HTTP handler: the operations of
// ops, run on host's database.
func NewHandler(host Host, ops *Ops, status Status) http.Handler {
	h := &handler{host: host, ops: ops, status: status}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", h.handleStatus)
	mux.HandleFunc("POST /v1/backup", h.handleBackup)
	mux.HandleFunc("POST /v1/verify", h.handleVerify)
	mux.HandleFunc("POST /v1/prune", h.handlePrune)
	mux.HandleFunc("POST /v1/drill", h.handleDrill)
	mux.HandleFunc("POST /v1/restore", h.handleRestore)
	return mux
}

type handler struct {
	host   Host
	ops    *Ops
	status Status
}

func (h *handler) handleStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(h.status)
}

func (h *handler) handleBackup(w http.ResponseWriter, r *http.Request) {
	serveOp(h, w, r, func(ctx context.Context, db *sqldb.DB, req BackupRequest, st *stream) (*backup.Result, error) {
		return h.ops.Backup(ctx, db, db, req, st.progress)
	})
}

func (h *handler) handleVerify(w http.ResponseWriter, r *http.Request) {
	serveOp(h, w, r, func(ctx context.Context, db *sqldb.DB, req VerifyRequest, st *stream) (*backup.Report, error) {
		return h.ops.Verify(ctx, db, req, st.progress)
	})
}

func (h *handler) handleDrill(w http.ResponseWriter, r *http.Request) {
	serveOp(h, w, r, func(ctx context.Context, db *sqldb.DB, req DrillRequest, _ *stream) (*backup.DrillReport, error) {
		return h.ops.Drill(ctx, db, db, req)
	})
}

func (h *handler) handlePrune(w http.ResponseWriter, r *http.Request) {
	serveOp(h, w, r, func(ctx context.Context, db *sqldb.DB, req PruneRequest, _ *stream) (*backup.PrunePlan, error) {
		return h.ops.Prune(ctx, db, req)
	})
}

// serveOp decodes a Req, runs op on the server's database and streams its
// progress and then its result.
func serveOp[Req, Res any](h *handler, w http.ResponseWriter, r *http.Request, op func(context.Context, *sqldb.DB, Req, *stream) (Res, error)) {
	var req Req
	st, ok := begin(w, r, &req)
	if !ok {
		return
	}
	var res Res
	err := h.host.Use(r.Context(), func(db *sqldb.DB) error {
		var err error
		res, err = op(r.Context(), db, req, st)
		return err
	})
	st.finish(res, err)
}

// handleRestore verifies and prepares the restore while the server keeps
// serving, then (unless a dry run) swaps the database in maintenance and
// records the restore in the new database.
func (h *handler) handleRestore(w http.ResponseWriter, r *http.Request) {
	var req RestoreRequest
	st, ok := begin(w, r, &req)
	if !ok {
		return
	}
	ctx := r.Context()
	started := time.Now()
	var target string
	if err := h.host.Use(ctx, func(db *sqldb.DB) error { target = db.Path; return nil }); err != nil {
		st.finish(nil, err)
		return
	}
	plan, err := h.ops.PrepareRestore(ctx, req, target, true, st.progress)
	if err != nil {
		h.ops.RecordRestore(ctx, nil, req, plan, nil, err, started)
		st.finish(nil, err)
		return
	}
	defer plan.Discard() // no-op once applied
	if req.DryRun {
		plan.Discard()
		h.ops.RecordRestore(ctx, nil, req, plan, nil, nil, started)
		st.finish(RestoreOutcome{DryRun: true, Plan: plan}, nil)
		return
	}

	// From here on the restore finishes even if the command line goes
	// away: a half-done maintenance helps nobody.
	ctx = context.WithoutCancel(ctx)
	st.notice("pausing the server: new requests answer 503 until the database is swapped")
	var res *backup.RestoreResult
	paused := time.Now()
	err = h.host.Maintain(ctx, func(ctx context.Context) error {
		var aerr error
		res, aerr = plan.Apply(ctx)
		return aerr
	})
	out := RestoreOutcome{Plan: plan, Result: res, PausedMS: time.Since(paused).Milliseconds()}
	if err != nil {
		h.ops.RecordRestore(ctx, nil, req, plan, res, err, started)
		st.finish(out, err)
		return
	}
	// Recorded in the new database, now being served.
	if uerr := h.host.Use(ctx, func(db *sqldb.DB) error {
		h.ops.RecordRestore(ctx, db, req, plan, res, nil, started)
		return nil
	}); uerr != nil {
		h.ops.RecordRestore(ctx, nil, req, plan, res, nil, started)
	}
	st.finish(out, nil)
}

// stream writes an answer as JSON lines, flushing each.
type stream struct {
	mu  sync.Mutex
	w   http.ResponseWriter
	rc  *http.ResponseController
	enc *json.Encoder
}

// begin decodes the request into req and starts the streamed answer.
func begin(w http.ResponseWriter, r *http.Request, req any) (*stream, bool) {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(req); err != nil {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(line{Error: &errorLine{Code: chat.EINVALID, Message: "admin request is not valid JSON: " + err.Error()}})
		return nil, false
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	st := &stream{w: w, rc: http.NewResponseController(w), enc: json.NewEncoder(w)}
	st.rc.Flush()
	return st, true
}

func (st *stream) write(l line) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.enc.Encode(l) == nil {
		st.rc.Flush()
	}
}

func (st *stream) progress(p Progress) { st.write(line{Progress: &p}) }

func (st *stream) notice(s string) { st.write(line{Notice: s}) }

// finish writes the last line: the result, the error, or both.
func (st *stream) finish(result any, err error) {
	l := line{}
	if result != nil && !isNilPointer(result) {
		l.Result = result
	}
	if err != nil {
		l.Error = &errorLine{Code: chat.ErrorCode(err), Message: errorText(err)}
	}
	if l.Result == nil && l.Error == nil {
		l.Error = &errorLine{Code: chat.EINTERNAL, Message: "no result"}
	}
	st.write(l)
}

func isNilPointer(v any) bool {
	switch p := v.(type) {
	case *backup.Result:
		return p == nil
	case *backup.Report:
		return p == nil
	case *backup.PrunePlan:
		return p == nil
	}
	return false
}

// ErrMaintenance is what Host.Use answers while the server restores a
// backup.
var ErrMaintenance = chat.Errorf(chat.EUNAVAILABLE, "Restoring a backup; back in a moment.")

// IsMaintenance reports whether err is ErrMaintenance.
func IsMaintenance(err error) bool { return errors.Is(err, ErrMaintenance) }

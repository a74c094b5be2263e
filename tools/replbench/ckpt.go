package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// ckptResult is one in-process run of the write path (db.CreateMessage,
// the server's) as fast as conc writers go, with continuous backup off or
// on with a given checkpoint threshold: what the checkpoint policy costs.
type ckptResult struct {
	Config      string  `json:"config"`
	Rep         int     `json:"rep"`
	PerSec      float64 `json:"per_sec"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	Checkpoints int64   `json:"checkpoints"`
	PerCkpt     float64 `json:"messages_per_checkpoint"`
	MaxStallms  float64 `json:"max_stall_ms"`
	Segments    int64   `json:"segments"`
}

// ckptPhase runs "off" and "on" with each threshold in pages, reps times,
// in a rotating order.
func ckptPhase(ctx context.Context, dir string, pages []int64, reps, conc int, d time.Duration, logf func(string, ...any)) ([]*ckptResult, error) {
	configs := []int64{0}
	configs = append(configs, pages...)
	var out []*ckptResult
	for rep := 1; rep <= reps; rep++ {
		for i := range configs {
			p := configs[(i+rep-1)%len(configs)]
			r, err := ckptOnce(ctx, filepath.Join(dir, fmt.Sprintf("ckpt-%d-%d", p, rep)), p, conc, d)
			if err != nil {
				return out, err
			}
			r.Rep = rep
			logf("ckpt %-8s run %d: %.0f msg/s, p50 %.2f ms, p99 %.2f ms, %d checkpoints (%.0f messages each), max stall %.0f ms",
				r.Config, rep, r.PerSec, r.P50ms, r.P99ms, r.Checkpoints, r.PerCkpt, r.MaxStallms)
			out = append(out, r)
		}
	}
	return out, nil
}

func ckptOnce(ctx context.Context, dir string, pages int64, conc int, d time.Duration) (*ckptResult, error) {
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	res := &ckptResult{Config: "off"}
	db := sqldb.New(filepath.Join(dir, "campfire.db"))
	db.Logger = slog.New(slog.DiscardHandler)
	var rep *backup.Replicator
	if pages > 0 {
		res.Config = fmt.Sprintf("on-%d", pages)
		rep = &backup.Replicator{Engine: &backup.Engine{Dir: filepath.Join(dir, "backups"), Host: "replbench", AppVersion: "replbench"},
			CheckpointPages: pages}
		db.AutoCheckpoint = false
		db.OnCommit = rep.Notify
	}
	if err := db.Open(ctx); err != nil {
		return nil, err
	}
	defer db.Close()
	if _, _, err := db.FirstRun(ctx, chat.NewUser{Name: "Ada", Email: "ada@example.com", Password: "benchmark-password"},
		"$2a$04$replbench.fixed.password.hash.not.a.real.bcrypt.value.xx"); err != nil {
		return nil, err
	}
	if rep != nil {
		rep.DB = db
		if err := rep.Start(ctx); err != nil {
			return nil, err
		}
		defer rep.Close(ctx)
	}
	var mu sync.Mutex
	var lats []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	body := "a message of about the usual length of a line of chat, with a few words more to make it so"
	for w := range conc {
		wg.Go(func() {
			var mine []time.Duration
			for n := 0; time.Since(start) < d; n++ {
				t := time.Now()
				if _, _, err := db.CreateMessage(ctx, 1, chat.Message{RoomID: 1, ClientID: fmt.Sprintf("c-%d-%d", w, n),
					Body: body, HTML: "<p>" + body + "</p>", Plain: body}); err != nil {
					return
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	res.PerSec = float64(len(lats)) / el
	res.P50ms, res.P99ms = ms(percentile(lats, 50)), ms(percentile(lats, 99))
	if rep != nil {
		st := rep.Stats()
		res.Checkpoints, res.MaxStallms, res.Segments = st.Checkpoints, ms(st.MaxStall), st.Segments
		res.PerCkpt = ratio(float64(len(lats)), float64(st.Checkpoints))
	}
	return res, nil
}

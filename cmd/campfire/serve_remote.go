package main

import (
	"context"
	"time"

	"github.com/campfire-in-go/campfire/internal/admin"
)

// remoteCheckTimeout bounds serve's start-up self-test of the off-site
// destination.
var remoteCheckTimeout = 30 * time.Second

// checkRemoteInBackground self-tests the off-site destination, when one is
// configured, without delaying the start: the server serves either way,
// logs one line with the outcome, and /health/detailed shows it.
func checkRemoteInBackground(ctx context.Context, ops *admin.Ops) {
	if ops.Config.Remote == "" {
		return
	}
	go ops.CheckRemote(ctx, remoteCheckTimeout)
}

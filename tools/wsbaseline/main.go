// Command wsbaseline serves the least possible WebSocket broadcast server
// (package baseline) on loopback, so tools/fanout can compare Campfire's
// live fan-out against it on the same machine:
//
//	go run ./tools/wsbaseline -addr 127.0.0.1:8090
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/campfire-in-go/campfire/tools/wsbaseline/baseline"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "wsbaseline:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	// One descriptor per client: allow as many as the hard limit does.
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: baseline.Handler()}
	go func() {
		<-ctx.Done()
		srv.Close() // hijacked WebSockets end when the process does
	}()
	fmt.Fprintf(os.Stderr, "wsbaseline: pid %d listening on http://%s\n", os.Getpid(), ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

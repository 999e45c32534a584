// Command hello is the example service of odin's local releases: it answers
// with the names of its service, release and version, so a blue/green switch
// is visible from outside.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stderr))
}

// run is the whole program; it returns the exit code. --crash makes it fail
// at start, which examples/failing uses to show a failed deploy.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("hello", flag.ContinueOnError)
	fs.SetOutput(stderr)
	crash := fs.Bool("crash", false, "exit with code 3 at start, as a broken release would")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *crash {
		fmt.Fprintln(stderr, "hello: cannot start: --crash was given (this release is broken on purpose)")
		return 3
	}
	port := getenv("PORT")
	if port == "" {
		fmt.Fprintln(stderr, "hello: PORT is not set; odin sets it for each instance")
		return 2
	}
	// Loopback only: the local load balancer is the one public door.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		fmt.Fprintf(stderr, "hello: %v\n", err)
		return 1
	}
	h := handler(getenv("ODIN_SERVICE"), getenv("ODIN_RELEASE_ID"), getenv("VERSION"))
	fmt.Fprintf(stderr, "hello: listening on %s\n", ln.Addr())
	if err := serve(ctx, ln, h); err != nil {
		fmt.Fprintf(stderr, "hello: %v\n", err)
		return 1
	}
	return 0
}

// handler answers / with who it is and /healthz with 200.
func handler(service, release, version string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "hello from %s release %s version %s\n", orUnset(service), orUnset(release), orUnset(version))
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	return mux
}

func orUnset(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}

// serve serves h on ln until ctx ends, then lets requests in flight finish.
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

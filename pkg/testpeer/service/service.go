// Package service is the service a test release runs: the test binary,
// started again by a provider as a release's instance, serves through Serve.
package service

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

// Serve serves h on 127.0.0.1:$PORT, as an instance is told to, until
// SIGTERM, and returns the process's exit code: 1 when it cannot listen.
func Serve(h http.Handler) int {
	l, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: h}
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		<-c
		srv.Close()
	}()
	srv.Serve(l)
	return 0
}

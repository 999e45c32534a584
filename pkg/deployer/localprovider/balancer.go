package localprovider

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// balancer is a service's stable address: a reverse proxy on its listen port
// that spreads requests over the instances of the release it routes to.
type balancer struct {
	scope  string
	srv    *http.Server
	target atomic.Pointer[route]
	next   atomic.Uint64
	wg     sync.WaitGroup
}

type route struct {
	releaseID string
	addrs     []string
}

func newBalancer(addr, scope string) (*balancer, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("load balancer on %s: %w", addr, err)
	}
	b := &balancer{scope: scope}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme = "http"
			r.Out.URL.Host = r.In.Context().Value(backendKey{}).(string)
			r.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "odin local load balancer: instance unreachable: "+err.Error(), http.StatusBadGateway)
		},
	}
	b.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rt := b.target.Load()
			if rt == nil || len(rt.addrs) == 0 {
				http.Error(w, "odin local load balancer: no release of "+scope+" is serving yet", http.StatusServiceUnavailable)
				return
			}
			addr := rt.addrs[b.next.Add(1)%uint64(len(rt.addrs))]
			w.Header().Set("X-Odin-Release", rt.releaseID)
			proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, addr)))
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.srv.Serve(l)
	}()
	return b, nil
}

type backendKey struct{}

// route sends new requests to the release's instances on ports.
func (b *balancer) route(releaseID string, ports []int) {
	rt := &route{releaseID: releaseID}
	for _, p := range ports {
		rt.addrs = append(rt.addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	b.target.Store(rt)
}

func (b *balancer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.srv.Shutdown(ctx)
	b.wg.Wait()
}

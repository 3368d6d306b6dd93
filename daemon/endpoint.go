package daemon

import (
	"context"
	"net"
	"strconv"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/daemon/endpoint"
)

// startEndpoint opens the local endpoint on the user's port (chosen and
// recorded in state.json the first time) and serves it; with the endpoint
// off it records that, so a migration (the daemon's or import's) leaves
// config.json without a key. It returns how to stop it (nil when it does
// not run). A port that cannot be opened leaves the endpoint off for this
// run, logged with the fix; look-ups on the socket go on.
func (d *Daemon) startEndpoint(ctx context.Context) func(context.Context) {
	if !d.cfg.Endpoint {
		d.store.NoEndpoint = true
		if ep, err := d.store.EndpointState(); err == nil && (ep.Port > 0 || len(ep.Tokens) > 0 || d.cfg.EndpointOff) && !ep.Off {
			if err := d.store.SetEndpoint(0, true); err != nil {
				d.log.Warn("cannot record that the local endpoint is off", "err", err)
			}
		}
		return nil
	}
	ep, err := d.store.EndpointState()
	if err != nil {
		d.store.NoEndpoint = true
		d.log.Error("the local endpoint is off: state.json cannot be read", "err", err)
		return nil
	}
	port := ep.Port
	if d.cfg.EndpointPort > 0 {
		port = d.cfg.EndpointPort
	}
	l, err := endpoint.Listen(ctx, port)
	if err != nil && port > 0 && d.cfg.EndpointPort == 0 {
		// Another program holds the recorded port: take a free one; it is
		// recorded below, and the watcher points config.json at it (the old
		// port is remembered as the endpoint's, so no real key goes there).
		d.log.Warn("the local endpoint's port is taken by another program; moving to a free one", "port", port, "err", err)
		l, err = endpoint.Listen(ctx, 0)
	}
	if err != nil {
		d.store.NoEndpoint = true
		d.log.Error("the local endpoint is off for this run: its port cannot be opened (another program holds it?); free it, or run the daemon with --no-endpoint",
			"port", port, "err", err)
		return nil
	}
	_, p, _ := net.SplitHostPort(l.Addr().String())
	got, _ := strconv.Atoi(p)
	if got != ep.Port || ep.Off {
		if err := d.store.SetEndpoint(got, false); err != nil {
			l.Close()
			d.store.NoEndpoint = true
			d.log.Error("the local endpoint is off: its port cannot be recorded in state.json", "err", err)
			return nil
		}
	}
	srv := endpoint.New(endpoint.Options{Store: d.store, Logger: d.log})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil {
			d.log.Error("the local endpoint stopped", "err", err)
		}
	}()
	d.endpointURL = (&credstore.Endpoint{Port: got}).URL()
	d.log.Info("local endpoint serving", "url", d.endpointURL)
	return func(sctx context.Context) {
		if err := srv.Shutdown(sctx); err != nil {
			d.log.Warn("local endpoint requests still in flight at shutdown were cut off", "err", err)
		}
		select {
		case <-done:
		case <-sctx.Done():
		}
	}
}

// EndpointURL is the local endpoint's URL while it runs ("" otherwise).
func (d *Daemon) EndpointURL() string { return d.endpointURL }

package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"

	"github.com/needle-router/needle/internal/api"
	"github.com/needle-router/needle/internal/capture"
	"github.com/needle-router/needle/internal/httpapi"
	"github.com/needle-router/needle/internal/playground"
	"github.com/needle-router/needle/internal/router"
	"github.com/needle-router/needle/internal/toolspec"
)

// mountWeb adds the HTTP/JSON API (/v1/..., over a loopback connection to the gRPC server
// at grpcAddr) and the playground page (/ and /ui/...) to mux. While draining reports true,
// API requests get UNAVAILABLE from the error table at once. The returned func closes the
// connection.
func mountWeb(ctx context.Context, mux *http.ServeMux, grpcAddr net.Addr, maxBody int, log *slog.Logger, draining func() bool) (func(), error) {
	conn, err := httpapi.Dial(grpcAddr)
	if err != nil {
		return nil, err
	}
	h, err := httpapi.New(ctx, conn, int64(maxBody), log)
	if err != nil {
		conn.Close()
		return nil, err
	}
	mux.Handle(httpapi.Prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining() {
			httpapi.WriteError(r.Context(), w, r, log, api.ErrShuttingDown)
			return
		}
		h.ServeHTTP(w, r)
	}))
	pg := playground.Handler()
	mux.Handle("GET /{$}", pg)
	mux.Handle("GET /ui/", pg)
	return func() { conn.Close() }, nil
}

// openCapture opens the flywheel's writer when a capture directory is set. It lives as long
// as the process: each row is one unbuffered write, so exiting loses nothing.
func openCapture(cfg capture.Config, log *slog.Logger) (router.Capturer, error) {
	if cfg.Dir == "" {
		return nil, nil
	}
	w, err := capture.Open(cfg)
	if err != nil {
		return nil, err
	}
	log.Warn("capturing validated cloud answers as training rows: transcripts and tool definitions are written to disk", "dir", cfg.Dir)
	return loggedCapture{w, log}, nil
}

// loggedCapture logs a row that could not be written (a full disk, say); the request it
// came from is answered all the same.
type loggedCapture struct {
	w   *capture.Writer
	log *slog.Logger
}

func (c loggedCapture) Record(query string, tools []toolspec.Tool, calls []toolspec.Call) error {
	err := c.w.Record(query, tools, calls)
	if err != nil {
		c.log.Warn("capture: row not written", "err", err)
	}
	return err
}

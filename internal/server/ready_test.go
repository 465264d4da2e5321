package server

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/api"
	"github.com/needle-router/needle/internal/escalate"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/router"
)

// Every method of the router service answers Unavailable ("router is loading") until the
// service is in place, then the service answers it.
func TestWhenReady(t *testing.T) {
	var svc atomic.Pointer[api.Service]
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	gs.RegisterService(whenReady(&svc), (*api.Service)(nil))
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return lis.DialContext(ctx)
	}), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := routerv1.NewRouterServiceClient(conn)
	ctx := context.Background()
	calls := map[string]func() error{
		"Route": func() error { _, err := c.Route(ctx, &routerv1.RouteRequest{Transcript: "x"}); return err },
		"PutToolset": func() error {
			_, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "a", ToolsJson: "[]"})
			return err
		},
		"GetToolset":    func() error { _, err := c.GetToolset(ctx, &routerv1.GetToolsetRequest{Name: "a"}); return err },
		"ListToolsets":  func() error { _, err := c.ListToolsets(ctx, &routerv1.ListToolsetsRequest{}); return err },
		"DeleteToolset": func() error { _, err := c.DeleteToolset(ctx, &routerv1.DeleteToolsetRequest{Name: "a"}); return err },
		"StartFinetune": func() error { _, err := c.StartFinetune(ctx, &routerv1.StartFinetuneRequest{Toolset: "a"}); return err },
		"GetFinetune":   func() error { _, err := c.GetFinetune(ctx, &routerv1.GetFinetuneRequest{Id: "latest"}); return err },
		"ValidateTools": func() error {
			_, err := c.ValidateTools(ctx, &routerv1.ValidateToolsRequest{ToolsSource: &routerv1.ValidateToolsRequest_ToolsJson{ToolsJson: "[]"}})
			return err
		},
	}
	if len(calls) != len(routerv1.RouterService_ServiceDesc.Methods) {
		t.Fatalf("%d methods tested, the service has %d", len(calls), len(routerv1.RouterService_ServiceDesc.Methods))
	}
	for name, call := range calls {
		if err := call(); status.Code(err) != codes.Unavailable || status.Convert(err).Message() != "router is loading" {
			t.Errorf("%s before ready: %v, want Unavailable (router is loading)", name, err)
		}
	}
	reg, err := registry.Open(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	svc.Store(api.NewService(router.New(router.DefaultConfig(), nil, escalate.New(escalate.Config{}), reg), reg, slog.New(slog.DiscardHandler)))
	if _, err := c.ListToolsets(ctx, &routerv1.ListToolsetsRequest{}); err != nil {
		t.Fatalf("ListToolsets once ready: %v", err)
	}
	if err := calls["GetToolset"](); status.Code(err) != codes.NotFound {
		t.Fatalf("GetToolset of an unknown toolset once ready: %v, want NotFound from the service", err)
	}
}

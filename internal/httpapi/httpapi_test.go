package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/api"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/router"
)

// stub is a RouterService with one function field per method used here.
type stub struct {
	routerv1.UnimplementedRouterServiceServer
	RouteF func(context.Context, *routerv1.RouteRequest) (*routerv1.RouteResponse, error)
}

func (s *stub) Route(ctx context.Context, r *routerv1.RouteRequest) (*routerv1.RouteResponse, error) {
	return s.RouteF(ctx, r)
}

func serve(t *testing.T, s *stub) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	routerv1.RegisterRouterServiceServer(gs, s)
	go gs.Serve(l)
	t.Cleanup(gs.Stop)
	conn, err := Dial(l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h, err := New(context.Background(), conn, 1<<10, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs
}

func post(t *testing.T, url, body string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestToolsAsJSONAndTraceContext(t *testing.T) {
	var got *routerv1.RouteRequest
	var md metadata.MD
	hs := serve(t, &stub{RouteF: func(ctx context.Context, r *routerv1.RouteRequest) (*routerv1.RouteResponse, error) {
		got = r
		md, _ = metadata.FromIncomingContext(ctx)
		return &routerv1.RouteResponse{Decision: routerv1.Decision_DECISION_LOCAL}, nil
	}})
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	code, body := post(t, hs.URL+"/v1/route", `{"transcript":"hi","tools":[{"name":"f","parameters":{}}]}`, "traceparent", tp)
	if code != 200 || !strings.Contains(body, `"DECISION_LOCAL"`) || !strings.Contains(body, `"confidence":0`) {
		t.Fatalf("%d %s", code, body)
	}
	if l := got.GetTools().GetListValue(); l == nil || l.Values[0].GetStructValue().Fields["name"].GetStringValue() != "f" {
		t.Errorf("tools arrived as %v", got.GetTools())
	}
	if v := md.Get("traceparent"); len(v) != 1 || v[0] != tp {
		t.Errorf("traceparent not forwarded: %v", md)
	}
}

func TestErrorsKeepCodeAndViolations(t *testing.T) {
	hs := serve(t, &stub{RouteF: func(ctx context.Context, r *routerv1.RouteRequest) (*routerv1.RouteResponse, error) {
		switch r.GetTranscript() {
		case "bad":
			return nil, api.Status(ctx, nil, &registry.ValidationError{Violations: []registry.Violation{{Field: "tools[0].name", Description: "missing"}}})
		case "gone":
			return nil, api.Status(ctx, nil, registry.ErrNotFound)
		}
		return nil, api.Status(ctx, nil, router.ErrUnavailable)
	}})
	for _, c := range []struct {
		transcript string
		code       int
	}{{"bad", 400}, {"gone", 404}, {"down", 503}} {
		code, body := post(t, hs.URL+"/v1/route", `{"transcript":"`+c.transcript+`"}`)
		if code != c.code {
			t.Errorf("%s: HTTP %d, want %d: %s", c.transcript, code, c.code, body)
		}
		if c.transcript == "bad" {
			var st struct {
				Details []struct {
					FieldViolations []struct{ Field, Description string } `json:"field_violations"`
				} `json:"details"`
			}
			if json.Unmarshal([]byte(body), &st) != nil || len(st.Details) != 1 || st.Details[0].FieldViolations[0].Field != "tools[0].name" {
				t.Errorf("violations lost: %s", body)
			}
		}
	}
	// Unknown fields, bodies that are not JSON and oversized bodies are refused before the
	// service, through the one error table: its fixed message and a field violation.
	for _, c := range []struct{ body, desc string }{
		{`{"transcrip":"x"}`, `unknown field "transcrip"`},
		{`{"transcript":`, "is not valid JSON"},
		{`{"transcript":"` + strings.Repeat("x", 2000) + `"}`, "is larger than 1024 bytes"},
	} {
		code, body := post(t, hs.URL+"/v1/route", c.body)
		var st struct {
			Code    int
			Message string
			Details []struct {
				FieldViolations []struct{ Field, Description string } `json:"field_violations"`
			}
		}
		if code != 400 || json.Unmarshal([]byte(body), &st) != nil || st.Code != int(codes.InvalidArgument) ||
			st.Message != "invalid request: see the field violations" || len(st.Details) != 1 || len(st.Details[0].FieldViolations) != 1 ||
			st.Details[0].FieldViolations[0].Field != "body" || !strings.Contains(st.Details[0].FieldViolations[0].Description, c.desc) {
			t.Errorf("%.40s: HTTP %d %s", c.body, code, body)
		}
	}
	// The service's own errors pass unchanged.
	if _, body := post(t, hs.URL+"/v1/route", `{"transcript":"gone"}`); !strings.Contains(body, `"message":"toolset not found"`) {
		t.Errorf("service message changed: %s", body)
	}
}

// A status the service did not make goes through the table too: a stub that answers
// outside it, and the loopback connection refused (the router's gRPC port closed while it
// drains: issue 22 saw 503 with the raw dial error and the internal address).
func TestStatusesOutsideTheTableGoThroughIt(t *testing.T) {
	hs := serve(t, &stub{RouteF: func(ctx context.Context, r *routerv1.RouteRequest) (*routerv1.RouteResponse, error) {
		return nil, status.Error(codes.Unavailable, "dial tcp 10.0.0.7:50051: connection refused")
	}})
	code, body := post(t, hs.URL+"/v1/route", `{"transcript":"x"}`)
	if code != 503 || strings.Contains(body, "10.0.0.7") || !strings.Contains(body, `"router is not serving"`) {
		t.Errorf("%d %s", code, body)
	}
	// A refused loopback connection.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr()
	l.Close()
	conn, err := Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h, err := New(context.Background(), conn, 1<<10, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	code, body = post(t, srv.URL+"/v1/route", `{"transcript":"x"}`)
	port := fmt.Sprint(addr.(*net.TCPAddr).Port)
	if code != 503 || strings.Contains(body, port) || strings.Contains(body, "127.0.0.1") || strings.Contains(body, "dial") || !strings.Contains(body, `"router is not serving"`) {
		t.Errorf("%d %s", code, body)
	}
}

// Methods a path does not take are 405 with an Allow header and the table's message;
// unknown paths are 404 from the table (issue 22: GET or PATCH on /v1/route gave 501
// UNIMPLEMENTED with a message outside the table).
func TestMethodNotAllowedAndUnknownPaths(t *testing.T) {
	hs := serve(t, &stub{RouteF: func(ctx context.Context, r *routerv1.RouteRequest) (*routerv1.RouteResponse, error) {
		return &routerv1.RouteResponse{}, nil
	}})
	for _, c := range []struct {
		method, path string
		code         int
		allow        string
	}{
		{"GET", "/v1/route", 405, "POST"},
		{"PATCH", "/v1/route", 405, "POST"},
		{"PUT", "/v1/route", 405, "POST"},
		{"DELETE", "/v1/route", 405, "POST"},
		{"POST", "/v1/toolsets/kitchen", 405, "PUT, GET, DELETE"},
		{"PATCH", "/v1/toolsets", 405, "GET"},
		{"GET", "/v1/tools:validate", 405, "POST"},
		{"GET", "/v1/nope", 404, ""},
		{"POST", "/v1/route/extra", 404, ""},
	} {
		req, _ := http.NewRequest(c.method, hs.URL+c.path, strings.NewReader(`{}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var st struct {
			Code    int
			Message string
		}
		json.Unmarshal(b, &st)
		if resp.StatusCode != c.code || resp.Header.Get("Allow") != c.allow || !api.FromTable(status.New(codes.Code(st.Code), st.Message)) {
			t.Errorf("%s %s: %d Allow %q %s", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), b)
		}
	}
}

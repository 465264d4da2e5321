package api

import (
	"strings"
	"testing"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/router"
)

// Every reason the router can give goes out as the proto value of the same name, never as a
// bare number the client's enum does not know.
func TestEscalationReasonsMapped(t *testing.T) {
	for r := router.ReasonNone; r <= router.ReasonUnsupportedSchema; r++ {
		want := "ESCALATION_REASON_" + strings.ToUpper(r.String())
		if r == router.ReasonNone {
			want = "ESCALATION_REASON_UNSPECIFIED"
		}
		got := escalationReason(r)
		if name, ok := routerv1.EscalationReason_name[int32(got)]; !ok || name != want {
			t.Errorf("router reason %v goes out as %v (%q, known %v), want %s", r, int32(got), name, ok, want)
		}
	}
}

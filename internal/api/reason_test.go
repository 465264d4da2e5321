package api

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/router"
)

// Every decision, reason and fallback cause the router can give goes out as the proto value
// of the same name (the "none" values as UNSPECIFIED), never as a bare number the client's
// enum does not know, and every proto value has a router value behind it.
func TestEnumsMapped(t *testing.T) {
	check := func(kind, prefix string, names []string, got []int32, desc protoreflect.EnumDescriptor) {
		t.Helper()
		seen := map[int32]bool{}
		for i, n := range names {
			want := prefix + strings.ToUpper(n)
			if n == "none" || n == "unspecified" {
				want = prefix + "UNSPECIFIED"
			}
			v := desc.Values().ByNumber(protoreflect.EnumNumber(got[i]))
			if v == nil || string(v.Name()) != want {
				t.Errorf("%s %q goes out as %d, want %s", kind, n, got[i], want)
			}
			seen[got[i]] = true
		}
		for i := 0; i < desc.Values().Len(); i++ {
			if v := desc.Values().Get(i); !seen[int32(v.Number())] {
				t.Errorf("%s: proto value %s has no router value", kind, v.Name())
			}
		}
	}
	var names []string
	var got []int32
	for _, d := range router.Decisions {
		names, got = append(names, d.String()), append(got, int32(decisionProto(d)))
	}
	check("decision", "DECISION_", names, got, routerv1.Decision(0).Descriptor())
	names, got = nil, nil
	for _, r := range router.Reasons {
		names, got = append(names, r.String()), append(got, int32(reasonProto(r)))
	}
	check("reason", "ESCALATION_REASON_", names, got, routerv1.EscalationReason(0).Descriptor())
	names, got = nil, nil
	for _, c := range router.Causes {
		names, got = append(names, c.String()), append(got, int32(causeProto(c)))
	}
	check("fallback cause", "FALLBACK_CAUSE_", names, got, routerv1.FallbackCause(0).Descriptor())
}

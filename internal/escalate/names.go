package escalate

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
)

// cloudNameRE is what OpenAI-compatible APIs accept as a function name.
var cloudNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// Names maps the caller's tool names to names the cloud accepts, and back.
type Names struct {
	ToCloud   map[string]string
	FromCloud map[string]string
}

// MapNames gives every tool a distinct cloud name matching ^[a-zA-Z0-9_-]{1,64}$. Names that
// already match are kept; others have each disallowed character replaced by '_'
// (math.factorial -> math_factorial), and a name that is then too long or taken is cut and
// suffixed with a hash of the original, so the mapping is deterministic and one-to-one.
func MapNames(names []string) Names {
	n := Names{ToCloud: make(map[string]string, len(names)), FromCloud: make(map[string]string, len(names))}
	for _, name := range names { // valid names first: they keep themselves
		if cloudNameRE.MatchString(name) {
			n.ToCloud[name], n.FromCloud[name] = name, name
		}
	}
	for _, name := range names {
		if _, done := n.ToCloud[name]; done {
			continue
		}
		c := strings.Map(func(r rune) rune {
			if r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return '_'
		}, name)
		if _, taken := n.FromCloud[c]; taken || c == "" || len(c) > 64 {
			sum := sha256.Sum256([]byte(name))
			c = c[:min(len(c), 55)] + "_" + hex.EncodeToString(sum[:4])
		}
		for i := 2; ; i++ { // a hash collision as well: count up
			if _, taken := n.FromCloud[c]; !taken {
				break
			}
			s := "_" + strconv.Itoa(i)
			c = c[:min(len(c), 64-len(s))] + s
		}
		n.ToCloud[name], n.FromCloud[c] = c, name
	}
	return n
}

package needle

import (
	"strings"
	"testing"
)

func TestSpokenNumbers(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"car climate twenty three degrees then car climate seventy four", "23 74"},
		{"weight kg to thirty point four", "30.4"},
		{"play it at one point two five speed", "1.25"},
		{"brice owes me two hundred and forty eight dollars and ninety nine cents", "248.99"},
		{"five bucks and five cents", "5.05"},
		{"a hundred and five push ups", "105"},
		{"one thousand and five", "1005"},
		{"two thousand three hundred twelve", "2312"},
		{"three million", "3000000"},
		{"one two three", "1 2 3"},
		{"twenty thirty", "20 30"},
		{"nineteen ninety", "19 90"},
		{"zero", "0"},
		{"Seventy-Four", "74"},
		{"point five", "5"},            // no integer before "point": only the digit
		{"a cat and a dog", ""},        // no number words
		{"hundred", ""},                // a scale alone is not a number
		{"ten point", "10"},            // "point" without digits is left
		{"two hundred hundred", "200"}, // the second scale starts nothing
		{"someone gave one", "1"},      // words, not substrings
	} {
		var got []string
		spokenNumbers(c.text, func(lit []byte) bool { got = append(got, string(lit)); return true })
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%q: %q, want %q", c.text, g, c.want)
		}
	}
}

// Spoken numbers join the transcript's literals after its digits, within the same cap.
func TestNumberLiteralsSpoken(t *testing.T) {
	var cs copyState
	cs.numberLiterals("set 5 timers, one for seventy four seconds")
	var lits []string
	lo := int32(0)
	for _, hi := range cs.numEnds {
		lits = append(lits, string(cs.nums[lo:hi]))
		lo = hi
	}
	if got := strings.Join(lits, " "); got != "5 1 74" {
		t.Errorf("literals %q", got)
	}
	cs.numberLiterals(strings.Repeat("seven ", 10*maxNumLits))
	if len(cs.numEnds) != maxNumLits {
		t.Errorf("%d literals, want the cap %d", len(cs.numEnds), maxNumLits)
	}
}

func FuzzSpokenNumbers(f *testing.F) {
	for _, s := range []string{"", "a hundred", "one point", "and and", "ninety nine dollars and", "a a hundred thousand million"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := 0
		spokenNumbers(s, func(lit []byte) bool {
			if len(lit) == 0 {
				t.Fatal("empty literal")
			}
			n++
			return n < 100
		})
	})
}

package decode

import (
	"encoding/json"
	"strconv"
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
		{"ten dollars and fifty cents", "10.5"}, // no trailing zeros
		{"one point zero", "1"},
		{"a hundred and five push ups", "105"},
		{"one thousand and five", "1005"},
		{"two thousand three hundred twelve", "2312"},
		{"three million", "3000000"},
		{"one two three", "1 2 3"},
		{"twenty thirty", "20 30"},
		{"nineteen ninety", "19 90"},
		{"zero", "0"},
		{"Seventy-Four", "74"},
		{"point five", "0.5"},
		{"minus five and negative three point two", "-5 -3.2"},
		{"a cat and a dog", ""},        // no number words
		{"hundred", ""},                // a scale alone is not a number
		{"ten point", "10"},            // "point" without digits is left
		{"two hundred hundred", "200"}, // the second scale starts nothing
		{"someone gave one", "1"},      // words, not substrings
		{"which one? the one in Paris, no one", ""},
		// Separate numbers stay separate.
		{"between one hundred and two hundred dollars", "100 200"},
		{"five hundred and six hundred", "500 600"},
		{"one thousand two thousand", "1000 2000"},
		{"three thousand two million", "3000 2000000"},
		{"set it to seventy. Four people are coming", "70 4"},
		{"thirty, five", "30 5"},
		{"twenty 3 four", "20 4"}, // the digit is numberLiterals'
		{strings.Repeat("nine hundred ninety nine billion ", 3), "999000000000 999000000000 999000000000"},
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
			if !json.Valid(lit) || len(lit) > maxNumLitLen {
				t.Fatalf("literal %q of %q is not a short JSON number", lit, s)
			}
			if _, err := strconv.ParseFloat(string(lit), 64); err != nil {
				t.Fatalf("literal %q of %q: %v", lit, s, err)
			}
			n++
			return n < 100
		})
	})
}

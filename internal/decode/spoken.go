package decode

import (
	"strconv"
	"strings"
)

// Spoken numbers. Transcripts say "seventy four", "thirty point four", "two hundred and
// forty eight dollars and ninety nine cents"; the answer's values are 74, 30.4, 248.99.
// spokenNumbers reads such runs of English number words so that grounded decoding treats
// them like the digits it finds (numberLiterals): a number value the transcript speaks is
// grounded, and a further call that differs by one is not taken for a made-up repeat.

// numberWord is one word's part in a spoken number.
type numberWord struct {
	v    int64
	kind uint8
}

const (
	wUnit uint8 = iota + 1 // zero..nine
	wTeen                  // ten..nineteen
	wTens                  // twenty..ninety
	wHundred
	wScale // thousand, million, billion
)

var numberWords = func() map[string]numberWord {
	m := map[string]numberWord{"hundred": {100, wHundred}, "thousand": {1e3, wScale}, "million": {1e6, wScale}, "billion": {1e9, wScale}}
	for i, w := range strings.Fields("zero one two three four five six seven eight nine") {
		m[w] = numberWord{int64(i), wUnit}
	}
	for i, w := range strings.Fields("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen") {
		m[w] = numberWord{int64(10 + i), wTeen}
	}
	for i, w := range strings.Fields("twenty thirty forty fifty sixty seventy eighty ninety") {
		m[w] = numberWord{int64(20 + 10*i), wTens}
	}
	return m
}()

// pronounOne: "one" after these is a pronoun ("which one", "the one in Paris"), not 1.
var pronounOne = map[string]bool{"the": true, "which": true, "no": true, "any": true, "some": true, "every": true,
	"this": true, "that": true, "each": true, "another": true, "other": true}

// spokenBreak stands for punctuation and digits between words: a spoken number never spans
// it ("seventy. Four people" is 70 and 4).
const spokenBreak = "|"

// spokenWords lowercases text into letter runs, with spokenBreak for any other character but
// spaces and hyphens ("seventy-four" is two words).
func spokenWords(text string) []string {
	var words []string
	start := -1
	flush := func(i int) {
		if start >= 0 {
			words = append(words, strings.ToLower(text[start:i]))
			start = -1
		}
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			if start < 0 {
				start = i
			}
		case c == ' ' || c == '-' || c == '\t' || c == '\n':
			flush(i)
		default:
			flush(i)
			if len(words) == 0 || words[len(words)-1] != spokenBreak {
				words = append(words, spokenBreak)
			}
		}
	}
	flush(len(text))
	return words
}

// spokenNumbers calls emit with each spoken number in text as a JSON number, in order:
// cardinals up to the billions ("a hundred", "one thousand and five"), a sign ("minus
// five"), decimals read digit by digit after "point" ("point five" is 0.5), and money as "N
// dollars|bucks and M cents". Scales only descend within one number and "and" joins only a
// part below a hundred, so "one hundred and two hundred" is 100 and 200, and a run that
// cannot continue one number starts the next ("one two" is 1 and 2). Fractions are written
// without trailing zeros ("ten dollars and fifty cents" is 10.5). It stops when emit returns
// false. Work is linear in len(text).
func spokenNumbers(text string, emit func(lit []byte) bool) {
	words := spokenWords(text)
	var buf []byte
	for i := 0; i < len(words); {
		neg := false
		start := i
		if (words[i] == "minus" || words[i] == "negative") && i+1 < len(words) {
			if nw, ok := numberWords[words[i+1]]; ok && nw.kind != wHundred && nw.kind != wScale {
				neg, start = true, i+1
			}
		}
		var v, frac int64
		var fracDigits, n int
		if words[start] == "point" && (start == 0 || numberWords[words[start-1]].kind == 0) {
			frac, fracDigits, n = readDigits(words, start+1) // "point five": 0.5
			if n > 0 {
				n++
			}
		} else {
			v, frac, fracDigits, n = readSpoken(words, start)
		}
		if n == 0 || (n == 1 && words[start] == "one" && start > 0 && pronounOne[words[start-1]]) {
			i = start + 1
			continue
		}
		i = start + n
		// "... dollars and ninety nine cents": the cents are the fraction.
		if fracDigits == 0 && i+2 < len(words) && (words[i] == "dollars" || words[i] == "bucks" || words[i] == "dollar") && words[i+1] == "and" {
			if c, _, fd, m := readSpoken(words, i+2); m > 0 && fd == 0 && c < 100 && i+2+m < len(words) && (words[i+2+m] == "cents" || words[i+2+m] == "cent") {
				frac, fracDigits = c, 2
				i += 3 + m
			}
		}
		buf = buf[:0]
		if neg && (v != 0 || frac != 0) {
			buf = append(buf, '-')
		}
		buf = strconv.AppendInt(buf, v, 10)
		if fracDigits > 0 {
			for frac != 0 && frac%10 == 0 { // no trailing zeros: 2.50 is 2.5
				frac /= 10
				fracDigits--
			}
			if frac != 0 {
				f := strconv.AppendInt(nil, frac, 10)
				buf = append(buf, '.')
				for k := len(f); k < fracDigits; k++ {
					buf = append(buf, '0')
				}
				buf = append(buf, f...)
			}
		}
		if !emit(buf) {
			return
		}
	}
}

// maxSpoken bounds a spoken number (well inside int64 and maxNumLitLen).
const maxSpoken = 1e15

// readSpoken reads one number starting at words[i]: its integer part, its fraction's
// digits as an integer and their count, and the words used (0: no number starts here).
func readSpoken(words []string, i int) (v, frac int64, fracDigits, n int) {
	var total, cur int64
	var last uint8                  // the kind of the last number word taken
	var lastScale int64             // the last scale taken: the next must be smaller
	commitJ, commit := -1, int64(0) // after the last scale: where to end if a later part is refused
	j := i
	took := false
loop:
	for j < len(words) {
		w := words[j]
		if w == "a" && j+1 < len(words) && !took {
			if nw, ok := numberWords[words[j+1]]; ok && (nw.kind == wHundred || nw.kind == wScale) {
				cur, last, took, j = 1, wUnit, true, j+1 // "a hundred": one hundred
				continue
			}
		}
		if w == "and" && took && (last == wHundred || last == wScale) && andJoins(words, j+1) {
			j++
			continue
		}
		nw, ok := numberWords[w]
		if !ok {
			break
		}
		switch nw.kind {
		case wUnit:
			if last == wUnit || last == wTeen {
				break loop
			}
			cur += nw.v
		case wTeen, wTens:
			if last == wUnit || last == wTeen || last == wTens {
				break loop
			}
			cur += nw.v
		case wHundred:
			if !took || last == wHundred || last == wScale || cur >= 100 {
				break loop
			}
			cur *= 100
		case wScale:
			if !took || last == wScale || (lastScale != 0 && nw.v >= lastScale) {
				if lastScale != 0 && last != wScale { // "one thousand two thousand": end after the first
					return commit, 0, 0, commitJ - i
				}
				break loop
			}
			total += cur * nw.v
			cur, lastScale = 0, nw.v
			commit, commitJ = total, j+1
		}
		if total+cur > maxSpoken {
			return 0, 0, 0, 0
		}
		last, took = nw.kind, true
		j++
	}
	if !took {
		return 0, 0, 0, 0
	}
	v = total + cur
	// "point" then single digits: the fraction.
	if j+1 < len(words) && words[j] == "point" {
		if f, fd, m := readDigits(words, j+1); m > 0 {
			frac, fracDigits, j = f, fd, j+1+m
		}
	}
	return v, frac, fracDigits, j - i
}

// andJoins reports whether the words from i are a part below a hundred that "and" joins to
// the number before it ("one hundred and five"), not the start of another hundred or
// thousand ("one hundred and two hundred").
func andJoins(words []string, i int) bool {
	j := i
	for j < len(words) {
		nw, ok := numberWords[words[j]]
		if !ok {
			break
		}
		if nw.kind == wHundred || nw.kind == wScale {
			return false
		}
		j++
	}
	return j > i
}

// readDigits reads single digit words ("four five" after "point"): their value, their
// count (at most 9) and the words used.
func readDigits(words []string, i int) (v int64, digits, n int) {
	for i+n < len(words) && digits < 9 {
		nw, ok := numberWords[words[i+n]]
		if !ok || nw.kind != wUnit {
			break
		}
		v = v*10 + nw.v
		digits++
		n++
	}
	return v, digits, n
}

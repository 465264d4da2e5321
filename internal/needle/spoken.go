package needle

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

// spokenNumbers calls emit with the canonical JSON text of each spoken number in text, in
// order: cardinals up to the billions ("a hundred", "one thousand and five"), decimals read
// digit by digit after "point", and money as "N dollars|bucks and M cents". A run that
// cannot continue one number starts the next ("one two" is 1 and 2). It stops when emit
// returns false. Work is linear in len(text).
func spokenNumbers(text string, emit func(lit []byte) bool) {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !(r >= 'a' && r <= 'z')
	})
	var buf []byte
	for i := 0; i < len(words); {
		v, frac, fracDigits, n := readSpoken(words, i)
		if n == 0 {
			i++
			continue
		}
		i += n
		// "... dollars and ninety nine cents": the cents are the fraction.
		if fracDigits == 0 && i+2 < len(words) && (words[i] == "dollars" || words[i] == "bucks" || words[i] == "dollar") && words[i+1] == "and" {
			if c, _, fd, m := readSpoken(words, i+2); m > 0 && fd == 0 && c < 100 && i+2+m < len(words) && (words[i+2+m] == "cents" || words[i+2+m] == "cent") {
				frac, fracDigits = c, 2
				i += 3 + m
			}
		}
		buf = strconv.AppendInt(buf[:0], v, 10)
		if fracDigits > 0 {
			f := strconv.AppendInt(nil, frac, 10)
			for len(f) < fracDigits {
				f = append([]byte{'0'}, f...)
			}
			buf = append(append(buf, '.'), f...)
		}
		if !emit(buf) {
			return
		}
	}
}

// readSpoken reads one number starting at words[i]: its integer part, its fraction's
// digits as an integer and their count, and the words used (0: no number starts here).
func readSpoken(words []string, i int) (v, frac int64, fracDigits, n int) {
	var total, cur int64
	var last uint8 // the kind of the last number word taken
	j := i
	took := false
	for j < len(words) {
		w := words[j]
		if w == "a" && j+1 < len(words) && !took {
			if nw, ok := numberWords[words[j+1]]; ok && (nw.kind == wHundred || nw.kind == wScale) {
				cur, last, took, j = 1, wUnit, true, j+1 // "a hundred": one hundred
				continue
			}
		}
		if w == "and" && took && (last == wHundred || last == wScale) && j+1 < len(words) {
			if nw, ok := numberWords[words[j+1]]; ok && nw.kind <= wTens {
				j++
				continue
			}
		}
		nw, ok := numberWords[w]
		if !ok {
			break
		}
		switch nw.kind {
		case wUnit:
			if last == wUnit || last == wTeen || (last == wTens && cur%10 != 0) {
				goto done
			}
			cur += nw.v
		case wTeen, wTens:
			if last == wUnit || last == wTeen || last == wTens {
				goto done
			}
			cur += nw.v
		case wHundred:
			if !took || last == wHundred || cur >= 100 {
				goto done
			}
			cur *= 100
		case wScale:
			if !took || (last == wScale && cur == 0) {
				goto done
			}
			total += cur * nw.v
			cur = 0
		}
		last, took = nw.kind, true
		j++
	}
done:
	if !took {
		return 0, 0, 0, 0
	}
	v = total + cur
	// "point" then single digits: the fraction.
	if j+1 < len(words) && words[j] == "point" {
		k := j + 1
		for k < len(words) && fracDigits < 9 {
			nw, ok := numberWords[words[k]]
			if !ok || nw.kind != wUnit {
				break
			}
			frac = frac*10 + nw.v
			fracDigits++
			k++
		}
		if fracDigits > 0 {
			j = k
		}
	}
	return v, frac, fracDigits, j - i
}

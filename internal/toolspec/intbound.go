package toolspec

// Exact integer bounds from JSON numbers. Bounds must be read exactly: the validator compares
// numbers exactly (big rationals), so a bound parsed as a float64 (1e999999 overflows and was
// dropped, 1e-999999 underflows to 0, 2^53+1 rounds to 2^53) gives the grammar a range the
// validator does not accept, and a tool that registers as local then fails every Route.

// IntLimit is the magnitude beyond which IntCeil and IntFloor saturate.
const IntLimit = 1_000_000_000_000_000_000 // 1e18

// Decimal is a JSON number read exactly: value = ±0.Digits × 10^Order, Digits without
// leading or trailing zeros ("" for zero).
type Decimal struct {
	Neg    bool
	Digits string
	Order  int64
}

// ParseDecimal reads a JSON number (RFC 8259 grammar) exactly, without big arithmetic, so
// that any exponent costs the same.
func ParseDecimal(s string) (Decimal, bool) {
	var d Decimal
	i := 0
	if i < len(s) && s[i] == '-' {
		d.Neg = true
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart := s[start:i]
	if len(intPart) == 0 || (len(intPart) > 1 && intPart[0] == '0') {
		return d, false
	}
	frac := ""
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == fs {
			return d, false
		}
		frac = s[fs:i]
	}
	var exp int64
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		es := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if exp < 1<<40 { // saturate: beyond this only the sign of the exponent matters
				exp = exp*10 + int64(s[i]-'0')
			}
			i++
		}
		if i == es {
			return d, false
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(s) {
		return d, false
	}
	digits := intPart + frac
	order := int64(len(intPart)) + exp
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
		order--
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	if digits == "" {
		return Decimal{}, true
	}
	d.Digits, d.Order = digits, order
	return d, true
}

// Cmp compares a and b exactly: -1, 0 or +1.
func (a Decimal) Cmp(b Decimal) int {
	sa, sb := a.sign(), b.sign()
	if sa != sb {
		if sa < sb {
			return -1
		}
		return 1
	}
	if sa == 0 {
		return 0
	}
	c := 0 // magnitude comparison
	switch {
	case a.Order < b.Order:
		c = -1
	case a.Order > b.Order:
		c = 1
	case a.Digits < b.Digits: // same order, no trailing zeros: lexicographic is numeric
		c = -1
	case a.Digits > b.Digits:
		c = 1
	}
	return c * sa
}

func (a Decimal) sign() int {
	switch {
	case a.Digits == "":
		return 0
	case a.Neg:
		return -1
	}
	return 1
}

// Round returns the least integer >= a (up) or the greatest integer <= a, exactly. When
// that integer lies beyond ±IntLimit, sat is its sign and v is 0.
func (a Decimal) Round(up bool) (v int64, sat int) {
	if a.Digits == "" {
		return 0, 0
	}
	if a.Order > 18 { // |a| >= 1e18
		return 0, a.sign()
	}
	var ip int64
	frac := false
	for k := 0; k < len(a.Digits); k++ {
		if int64(k) < a.Order {
			ip = ip*10 + int64(a.Digits[k]-'0')
		} else {
			frac = true // no trailing zeros: any digit left is a nonzero fraction
			break
		}
	}
	for k := int64(len(a.Digits)); k < a.Order; k++ {
		ip *= 10
	}
	if a.Neg {
		ip = -ip
	}
	if frac {
		if up && !a.Neg {
			ip++
		} else if !up && a.Neg {
			ip--
		}
	}
	switch {
	case ip > IntLimit:
		return 0, 1
	case ip < -IntLimit:
		return 0, -1
	}
	return ip, 0
}

package synth

import (
	"fmt"
	"strconv"
	"strings"
)

// Combinatorial value sources, so that names, places and titles cannot be memorised, and
// spoken forms of numbers, times and units whose argument value must be rewritten
// ("half an hour" -> 30, "two and a half kilometers" -> 2.5, "ten to seven pm" -> "18:50").

var syl1 = []string{"ka", "lo", "mi", "ra", "ve", "to", "sa", "nu", "el", "da", "ri", "zo", "be", "an", "mar", "kel", "tor", "lin", "sef", "dru", "ash", "bel", "cor", "fen", "gal", "hal", "jor", "mor", "nel", "pra", "quin", "ros", "tam", "ul", "vin", "wes", "yar", "zen"}
var syl2 = []string{"ra", "na", "lo", "vi", "ko", "ta", "mi", "shi", "den", "ric", "bel", "ton", "ley", "var", "dor", "lin", "wen", "ris", "mon", "sa"}
var placeSuffix = []string{"ford", "bridge", "ton", "ville", "burg", "haven", "field", "port", "wood", "stead", "mouth", "dale", " Springs", " Heights"}
var adjs = []string{"Silver", "Quiet", "Broken", "Golden", "Midnight", "Electric", "Hidden", "Last", "Northern", "Paper", "Wild", "Velvet", "Crimson", "Hollow", "Distant", "Bright", "Little", "Lonely", "Burning", "Frozen"}
var nouns = []string{"Harbor", "River", "Garden", "Letters", "Machine", "Horizon", "Lanterns", "Orchard", "Tide", "Echoes", "Kingdom", "Stairs", "Mirror", "Compass", "Forest", "Summer", "Engine", "Island", "Signal", "Clockwork"}

// coined invents a pronounceable capitalised word ("Kelvira", "Torden").
func (g *gen) coined() string {
	s := syl1[g.r.IntN(len(syl1))] + syl2[g.r.IntN(len(syl2))]
	if g.r.IntN(3) == 0 {
		s += syl2[g.r.IntN(len(syl2))]
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// town invents a place name ("Ashbridge", "Port Kelna", "Mirodale Heights").
func (g *gen) town() string {
	switch g.r.IntN(3) {
	case 0:
		return pick(g, "Port ", "East ", "New ", "Lake ", "Fort ", "Saint ") + g.coined()
	}
	return g.coined() + placeSuffix[g.r.IntN(len(placeSuffix))]
}

// title invents a book or song title.
func (g *gen) title() string {
	switch g.r.IntN(4) {
	case 0:
		return "The " + adjs[g.r.IntN(len(adjs))] + " " + nouns[g.r.IntN(len(nouns))]
	case 1:
		return nouns[g.r.IntN(len(nouns))] + " of " + g.town()
	case 2:
		return adjs[g.r.IntN(len(adjs))] + " " + nouns[g.r.IntN(len(nouns))]
	}
	return g.f.BookTitle()
}

// numSay says n as digits or words, with the "a hundred and twenty" forms of speech.
func (g *gen) numSay(n int) string {
	if n >= 100 && n < 1000 && (g.spoken || g.r.IntN(4) == 0) && g.r.IntN(2) == 0 {
		h, rest := n/100, n%100
		s := ones[h] + " hundred"
		if h == 1 && g.r.IntN(2) == 0 {
			s = "a hundred"
		}
		if rest != 0 {
			s += " and " + numWords(rest)
		}
		return s
	}
	return g.num(n)
}

// spokenNumber draws a number with halves and decimals and says it ("two and a half",
// "three point five", "7.25").
func (g *gen) spokenNumber() (string, float64) {
	n := g.intIn(1, 30)
	switch g.r.IntN(4) {
	case 0:
		if g.spoken || g.r.IntN(2) == 0 {
			if n == 1 && g.r.IntN(2) == 0 {
				return pick(g, "one and a half", "one point five"), 1.5
			}
			return numWords(n) + " and a half", float64(n) + 0.5
		}
		return strconv.Itoa(n) + ".5", float64(n) + 0.5
	case 1:
		d := g.intIn(1, 9)
		if g.spoken || g.r.IntN(2) == 0 {
			return numWords(n) + " point " + ones[d], float64(n) + float64(d)/10
		}
		return fmt.Sprintf("%d.%d", n, d), float64(n) + float64(d)/10
	}
	return g.num(n), float64(n)
}

func init() {
	slots["minutes"] = func(g *gen) val {
		n := g.durationN()
		if g.r.IntN(4) == 0 {
			switch n {
			case 30:
				return val{surf: pick(g, "half an hour", "thirty minutes", "a half hour"), v: 30}
			case 60:
				return val{surf: pick(g, "an hour", "one hour", "sixty minutes"), v: 60}
			case 90:
				return val{surf: pick(g, "an hour and a half", "one and a half hours", "ninety minutes"), v: 90}
			case 15:
				return val{surf: pick(g, "a quarter of an hour", "quarter of an hour", "fifteen minutes"), v: 15}
			case 45:
				return val{surf: pick(g, "three quarters of an hour", "forty five minutes"), v: 45}
			case 2:
				return val{surf: pick(g, "a couple of minutes", "a couple minutes", "two minutes"), v: 2}
			}
		}
		s := g.corrected(g.num(n)+" "+plural(n, "minute"), func() string { return g.num(n + 5) })
		return val{surf: s, v: n}
	}
	baseTime := slots["time24"]
	slots["time24"] = func(g *gen) val {
		switch g.r.IntN(7) {
		case 0:
			if g.r.IntN(2) == 0 {
				return val{surf: pick(g, "noon", "midday", "twelve noon"), v: "12:00"}
			}
			return val{surf: "midnight", v: "00:00"}
		case 1: // "ten to seven pm", "twenty past six in the morning"
			h := g.intIn(1, 11)
			m := []int{5, 10, 20, 25}[g.r.IntN(4)]
			pm := g.r.IntN(2) == 0
			ampm := pick(g, "am", "in the morning")
			if pm {
				ampm = pick(g, "pm", "in the evening", "at night")
			}
			h24 := h
			if pm {
				h24 += 12
			}
			if g.r.IntN(2) == 0 {
				return val{surf: numWords(m) + " past " + g.num(h) + " " + ampm, v: fmt.Sprintf("%02d:%02d", h24, m)}
			}
			// "m to h": the time is (h-1):(60-m); h runs 2..11 so am/pm stays on its side.
			if h == 1 {
				h, h24 = 2, h24+1
			}
			return val{surf: numWords(m) + " to " + g.num(h) + " " + ampm, v: fmt.Sprintf("%02d:%02d", h24-1, 60-m)}
		case 2:
			if !g.spoken { // typed 24-hour times are copied as written
				h, m := g.intIn(0, 23), []int{0, 15, 30, 45, 10, 50}[g.r.IntN(6)]
				s := fmt.Sprintf("%02d:%02d", h, m)
				return val{surf: s, v: s}
			}
		}
		return baseTime(g)
	}
	slots["distance"] = func(g *gen) val {
		s, v := g.spokenNumber()
		if v > 21 {
			v -= 10
			s, v = g.num(int(v)), float64(int(v))
		}
		unit := pick(g, " kilometers", " km", " k", " kilometres")
		if v == 1 {
			unit = pick(g, " kilometer", " km")
		}
		return val{surf: s + unit, v: v}
	}
	slots["money"] = func(g *gen) val {
		n := g.intIn(1, 500)
		k := g.r.IntN(5)
		if g.spoken && (k == 0 || k == 3) {
			k = 1 // speech has no "$12.50"
		}
		switch k {
		case 0:
			c := g.intIn(1, 99)
			return val{surf: fmt.Sprintf("$%d.%02d", n, c), v: float64(n) + float64(c)/100}
		case 1:
			c := []int{25, 50, 75, 99}[g.r.IntN(4)]
			return val{surf: g.numSay(n) + " dollars and " + numWords(c) + " cents", v: float64(n) + float64(c)/100}
		case 2:
			return val{surf: g.numSay(n) + " bucks", v: float64(n)}
		case 3:
			return val{surf: "$" + strconv.Itoa(n), v: float64(n)}
		}
		return val{surf: g.numSay(n) + " dollars", v: float64(n)}
	}
	slots["percent"] = func(g *gen) val {
		n := g.intIn(0, 20) * 5
		if g.r.IntN(5) == 0 {
			switch n {
			case 50:
				return val{surf: "half", v: 50}
			case 100:
				return val{surf: pick(g, "full", "max", "all the way"), v: 100}
			case 25:
				return val{surf: "a quarter", v: 25}
			}
		}
		return val{surf: g.num(n) + pick(g, " percent", "%", " percent"), v: n}
	}
	slots["quantity"] = func(g *gen) val {
		n := g.intIn(1, 12)
		if n == 12 && g.r.IntN(2) == 0 {
			return val{surf: "a dozen", v: 12}
		}
		if n == 2 && g.r.IntN(3) == 0 {
			return val{surf: "a couple", v: 2}
		}
		return val{surf: g.num(n), v: n}
	}
	slots["temperature"] = func(g *gen) val {
		n := g.intIn(16, 28)
		if g.r.IntN(3) == 0 {
			n = g.intIn(60, 80)
		}
		unit := pick(g, " degrees", " degrees", "", " degrees celsius")
		if n >= 60 {
			unit = pick(g, " degrees", " degrees fahrenheit", "")
		}
		return val{surf: g.corrected(g.num(n)+unit, func() string { return g.num(n+2) + " degrees" }), v: n}
	}
	ordinals := []string{"", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
		"twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth"}
	ordinal := func(d int) string {
		if d <= 20 {
			return ordinals[d]
		}
		return "twenty " + ordinals[d-20]
	}
	slots["date_iso"] = func(g *gen) val {
		m, d := g.intIn(1, 12), g.intIn(1, 28)
		y := 2026 + g.r.IntN(2)
		var surf string
		switch {
		case g.spoken:
			ys := "twenty twenty " + ones[y-2020]
			if g.r.IntN(2) == 0 {
				surf = fmt.Sprintf("%s %s %s", months[m-1], ordinal(d), ys)
			} else {
				surf = fmt.Sprintf("the %s of %s %s", ordinal(d), months[m-1], ys)
			}
		case g.r.IntN(3) == 0:
			sfx := "th"
			switch d {
			case 1, 21:
				sfx = "st"
			case 2, 22:
				sfx = "nd"
			case 3, 23:
				sfx = "rd"
			}
			surf = fmt.Sprintf("%s %d%s, %d", months[m-1], d, sfx, y)
		case g.r.IntN(2) == 0:
			surf = fmt.Sprintf("%s %d %d", months[m-1], d, y)
		default:
			surf = fmt.Sprintf("%s %d, %d", months[m-1], d, y)
		}
		return val{surf: surf, v: fmt.Sprintf("%d-%02d-%02d", y, m, d)}
	}
	slots["phone"] = func(g *gen) val {
		s := fmt.Sprintf("%03d-%03d-%04d", g.intIn(200, 989), g.intIn(200, 999), g.r.IntN(10000))
		if g.spoken {
			return val{surf: digitWords(strings.ReplaceAll(s, "-", "")), v: s}
		}
		return val{surf: s, v: s}
	}
	slots["song"] = func(g *gen) val {
		s := g.f.SongName()
		if g.r.IntN(2) == 0 {
			s = g.title()
		}
		return val{surf: s, v: s, verbatim: true}
	}
	slots["artist"] = func(g *gen) val {
		s := g.f.SongArtist()
		switch g.r.IntN(3) {
		case 0:
			s = g.coined() + " " + pick(g, "and the "+nouns[g.r.IntN(len(nouns))], g.f.LastName(), "Quartet", "Collective")
		case 1:
			s = g.f.FirstName() + " " + g.coined()
		}
		return val{surf: s, v: s, verbatim: true}
	}
	slots["city"] = func(g *gen) val {
		s := g.f.City()
		if g.r.IntN(3) == 0 {
			s = g.town()
		}
		return val{surf: s, v: s, verbatim: true}
	}
	slots["place"] = func(g *gen) val {
		s := pick(g, "the airport", "the nearest gas station", "work", "home", "the train station", g.f.Company(), "Central Park", g.f.Street(),
			"the hospital", "the mall", g.town(), g.town()+" station", g.coined()+" Park", g.f.LastName()+" Street", g.coined()+" Square", g.f.City())
		return val{surf: s, v: s, verbatim: true}
	}
}

// name draws a person's name: gofakeit first/last names mixed with invented ones.
func (g *gen) name() string {
	first := g.f.FirstName()
	if g.r.IntN(4) == 0 {
		first = g.coined()
	}
	switch g.r.IntN(4) {
	case 0:
		return first + " " + g.f.LastName()
	case 1:
		if g.r.IntN(3) == 0 {
			return first + " " + g.coined()
		}
	}
	return first
}

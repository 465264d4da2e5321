package synth

import (
	"fmt"
	"strconv"
	"strings"
)

// val is one filled slot: the words in the query and the argument value. verbatim marks a
// string value copied from the query, which spoken-style rewriting must rewrite alike.
type val struct {
	surf     string
	v        any
	verbatim bool
}

type slotFn func(g *gen) val

var ones = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
	"eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
var tens = []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}

// numWords spells n (0 <= n < 1e6) the way people say it.
func numWords(n int) string {
	switch {
	case n < 0:
		return "minus " + numWords(-n)
	case n < 20:
		return ones[n]
	case n < 100:
		if n%10 == 0 {
			return tens[n/10]
		}
		return tens[n/10] + " " + ones[n%10]
	case n < 1000:
		s := ones[n/100] + " hundred"
		if n%100 != 0 {
			s += " " + numWords(n%100)
		}
		return s
	case n < 1000000:
		s := numWords(n/1000) + " thousand"
		if n%1000 != 0 {
			s += " " + numWords(n%1000)
		}
		return s
	}
	return strconv.Itoa(n)
}

// num renders an integer as digits or, more often in speech, as words.
func (g *gen) num(n int) string {
	p := 0.25
	if g.spoken {
		p = 0.6
	}
	if n >= 0 && n < 1000 && g.r.Float64() < p {
		return numWords(n)
	}
	return strconv.Itoa(n)
}

// corrected sometimes says a wrong value first and corrects it, as speakers do.
func (g *gen) corrected(right string, wrong func() string) string {
	if !g.spoken || g.r.Float64() > 0.15 {
		return right
	}
	return wrong() + " " + pick(g, "no", "no wait", "sorry I mean", "actually", "I mean", "make that") + " " + right
}

func pick(g *gen, s ...string) string { return s[g.r.IntN(len(s))] }

func (g *gen) intIn(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

func (g *gen) durationN() int {
	return []int{1, 2, 3, 5, 5, 7, 8, 10, 10, 12, 15, 15, 20, 25, 30, 30, 40, 45, 60, 90}[g.r.IntN(20)]
}

var months = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
var weekdays = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

type lang struct{ name, code string }

var languages = []lang{{"Spanish", "es"}, {"French", "fr"}, {"German", "de"}, {"Italian", "it"}, {"Japanese", "ja"},
	{"Chinese", "zh"}, {"Portuguese", "pt"}, {"Korean", "ko"}, {"Dutch", "nl"}, {"Russian", "ru"}, {"Arabic", "ar"},
	{"Hindi", "hi"}, {"Turkish", "tr"}, {"Swedish", "sv"}, {"Polish", "pl"}, {"Greek", "el"}}

type currency struct{ spoken, code string }

var currencies = []currency{{"dollars", "USD"}, {"euros", "EUR"}, {"pounds", "GBP"}, {"yen", "JPY"}, {"swiss francs", "CHF"},
	{"canadian dollars", "CAD"}, {"australian dollars", "AUD"}, {"rupees", "INR"}, {"pesos", "MXN"}, {"yuan", "CNY"}, {"won", "KRW"}}

func clock(g *gen) (surf string, h24, m int) {
	h := g.intIn(1, 12)
	m = []int{0, 0, 0, 15, 30, 30, 45, 5, 10, 20, 40, 50}[g.r.IntN(12)]
	pm := g.r.IntN(2) == 1
	h24 = h % 12
	if pm {
		h24 += 12
	}
	ampm := pick(g, "am", "a.m.", "in the morning")
	if pm {
		ampm = pick(g, "pm", "p.m.", "in the evening")
		if h24 >= 12 && h24 < 17 {
			ampm = pick(g, "pm", "in the afternoon")
		}
	}
	hs := g.num(h)
	switch {
	case m == 30 && g.r.IntN(2) == 0:
		surf = "half past " + hs + " " + ampm
	case m == 15 && g.r.IntN(2) == 0:
		surf = "quarter past " + hs + " " + ampm
	case m == 45 && h != 11 && g.r.IntN(2) == 0:
		// "quarter to twelve" would cross noon or midnight and make am/pm ambiguous.
		surf = "quarter to " + g.num(h%12+1) + " " + ampm
	case m == 0 && g.r.IntN(2) == 0:
		surf = hs + " " + pick(g, "o'clock", ampm)
		if strings.Contains(surf, "o'clock") {
			surf += " " + ampm
		}
	case m == 0 && g.spoken:
		surf = hs + " " + ampm
	case m == 0:
		surf = fmt.Sprintf("%d:00 %s", h, ampm)
	default:
		if g.spoken {
			mm := numWords(m)
			if m < 10 {
				mm = "oh " + numWords(m)
			}
			surf = hs + " " + mm + " " + ampm
		} else {
			surf = fmt.Sprintf("%d:%02d %s", h, m, ampm)
		}
	}
	return surf, h24, m
}

var messages = []string{"I'll be late", "running ten minutes behind", "see you at the station", "call me when you land",
	"dinner is ready", "can you pick up milk", "the meeting moved to Thursday", "happy birthday", "I'm on my way",
	"don't forget the keys", "let's meet at the cafe", "the package arrived", "thanks for today", "good luck with the exam",
	"the kids are asleep", "traffic is terrible", "bring an umbrella", "lunch tomorrow?", "I found your wallet", "miss you"}

func (g *gen) message() string {
	switch g.r.IntN(4) {
	case 0:
		return "pick up " + strings.ToLower(g.f.Dinner()) + " on the way home"
	case 1:
		return "meet me at " + g.f.Company()
	}
	return messages[g.r.IntN(len(messages))]
}

// slots maps a slot name to its generator. Every hand-built parameter names one.
var slots = map[string]slotFn{
	"minutes": func(g *gen) val {
		n := g.durationN()
		s := g.corrected(g.num(n)+" "+plural(n, "minute"), func() string { return g.num(n + 5) })
		return val{surf: s, v: n}
	},
	"minutes_as_seconds": func(g *gen) val {
		n := g.durationN()
		return val{surf: g.num(n) + " " + plural(n, "minute"), v: n * 60}
	},
	"seconds": func(g *gen) val {
		n := []int{10, 20, 30, 45, 90}[g.r.IntN(5)]
		return val{surf: g.num(n) + " seconds", v: n}
	},
	"hours": func(g *gen) val { n := g.intIn(1, 12); return val{surf: g.num(n) + " " + plural(n, "hour"), v: n} },
	"timer_label": func(g *gen) val {
		s := pick(g, "pasta", "eggs", "laundry", "tea", "workout", "nap", "pizza", "bread", "meditation", "parking", "rice")
		return val{surf: s, v: s, verbatim: true}
	},
	"time24": func(g *gen) val {
		s, h, m := clock(g)
		return val{surf: s, v: fmt.Sprintf("%02d:%02d", h, m)}
	},
	"time_spoken": func(g *gen) val {
		s, _, _ := clock(g)
		return val{surf: s, v: s, verbatim: true}
	},
	"date": func(g *gen) val {
		var s string
		switch g.r.IntN(4) {
		case 0:
			s = pick(g, "today", "tomorrow", "tonight", "this weekend", "next week")
		case 1:
			s = weekdays[g.r.IntN(7)]
		case 2:
			s = "next " + weekdays[g.r.IntN(7)]
		default:
			s = months[g.r.IntN(12)] + " " + strconv.Itoa(g.intIn(1, 28))
		}
		return val{surf: s, v: s, verbatim: true}
	},
	"date_iso": func(g *gen) val {
		m, d := g.intIn(1, 12), g.intIn(1, 28)
		y := 2026 + g.r.IntN(2)
		surf := fmt.Sprintf("%s %d %d", months[m-1], d, y)
		if g.r.IntN(2) == 0 {
			surf = fmt.Sprintf("%s %d, %d", months[m-1], d, y)
		}
		return val{surf: surf, v: fmt.Sprintf("%d-%02d-%02d", y, m, d)}
	},
	"reminder_text": func(g *gen) val {
		s := pick(g, "take my medication", "call the dentist", "water the plants", "buy a birthday gift for "+g.f.FirstName(),
			"pay the electricity bill", "submit the report", "pick up the dry cleaning", "stretch", "drink water",
			"move the car", "check the oven", "email "+g.f.FirstName()+" about the "+strings.ToLower(g.f.ProductCategory()),
			"book a flight to "+g.f.City(), "renew my passport", "feed the cat")
		return val{surf: s, v: s, verbatim: true}
	},
	"event_title": func(g *gen) val {
		s := pick(g, "team standup", "dentist appointment", "lunch with "+g.f.FirstName(), "yoga class", "project review",
			"parent teacher meeting", "haircut", "coffee with "+g.f.FirstName(), g.f.Company()+" interview", "book club")
		return val{surf: s, v: s, verbatim: true}
	},
	"person":  func(g *gen) val { s := g.name(); return val{surf: s, v: s, verbatim: true} },
	"message": func(g *gen) val { s := g.message(); return val{surf: s, v: s, verbatim: true} },
	"email": func(g *gen) val {
		s := strings.ToLower(g.f.FirstName()) + "@" + strings.ToLower(strings.ReplaceAll(g.f.Company(), " ", "")) + ".com"
		s = strings.Map(func(r rune) rune {
			if r == ',' || r == '\'' {
				return -1
			}
			return r
		}, s)
		if g.spoken { // "ana at acme dot com": the address must be rewritten from speech
			return val{surf: strings.ReplaceAll(strings.ReplaceAll(s, "@", " at "), ".", " dot "), v: s}
		}
		return val{surf: s, v: s}
	},
	"subject": func(g *gen) val {
		s := pick(g, "quarterly numbers", "weekend plans", "the "+strings.ToLower(g.f.ProductCategory())+" order", "invoice "+strconv.Itoa(g.intIn(100, 9999)),
			"trip to "+g.f.City(), "meeting notes", "project update", "vacation request")
		return val{surf: s, v: s, verbatim: true}
	},
	"phone": func(g *gen) val {
		s := fmt.Sprintf("%03d-%03d-%04d", g.intIn(200, 989), g.intIn(200, 999), g.r.IntN(10000))
		return val{surf: s, v: s}
	},
	"city":    func(g *gen) val { s := g.f.City(); return val{surf: s, v: s, verbatim: true} },
	"address": func(g *gen) val { s := g.f.Street(); return val{surf: s, v: s, verbatim: true} },
	"place": func(g *gen) val {
		s := pick(g, "the airport", "the nearest gas station", "work", "home", "the train station", g.f.Company(), "Central Park", g.f.Street(), "the hospital", "the mall")
		return val{surf: s, v: s, verbatim: true}
	},
	"travel_mode": func(g *gen) val {
		modes := [][2]string{{"driving", "driving"}, {"by car", "driving"}, {"walking", "walking"}, {"on foot", "walking"}, {"by bike", "cycling"}, {"cycling", "cycling"}, {"by transit", "transit"}, {"by train", "transit"}}
		m := modes[g.r.IntN(len(modes))]
		return val{surf: m[0], v: m[1]}
	},
	"ride_type": func(g *gen) val {
		m := pick(g, "standard", "xl", "premium", "shared")
		return val{surf: m, v: m}
	},
	"seats": func(g *gen) val { n := g.intIn(1, 6); return val{surf: g.num(n), v: n} },
	"temp_unit": func(g *gen) val {
		if g.r.IntN(2) == 0 {
			return val{surf: pick(g, "in celsius", "in metric"), v: "celsius"}
		}
		return val{surf: pick(g, "in fahrenheit", "in imperial"), v: "fahrenheit"}
	},
	"temperature": func(g *gen) val {
		n := g.intIn(16, 28)
		if g.r.IntN(3) == 0 {
			n = g.intIn(60, 80)
		}
		return val{surf: g.corrected(g.num(n)+" degrees", func() string { return g.num(n+2) + " degrees" }), v: n}
	},
	"room": func(g *gen) val {
		s := pick(g, "living room", "kitchen", "bedroom", "bathroom", "office", "garage", "hallway", "kids room", "dining room", "porch")
		return val{surf: s, v: s, verbatim: true}
	},
	"percent": func(g *gen) val { n := g.intIn(0, 20) * 5; return val{surf: g.num(n) + " percent", v: n} },
	"level10": func(g *gen) val { n := g.intIn(0, 10); return val{surf: g.num(n), v: n} },
	"on_off": func(g *gen) val {
		if g.r.IntN(2) == 0 {
			return val{surf: pick(g, "on", "turn on", "enable"), v: true}
		}
		return val{surf: pick(g, "off", "turn off", "disable"), v: false}
	},
	"color": func(g *gen) val {
		s := strings.ToLower(pick(g, "red", "blue", "warm white", "green", "purple", "orange", "pink", "cool white", "yellow"))
		return val{surf: s, v: s, verbatim: true}
	},
	"song":   func(g *gen) val { s := g.f.SongName(); return val{surf: s, v: s, verbatim: true} },
	"artist": func(g *gen) val { s := g.f.SongArtist(); return val{surf: s, v: s, verbatim: true} },
	"genre":  func(g *gen) val { s := strings.ToLower(g.f.SongGenre()); return val{surf: s, v: s, verbatim: true} },
	"podcast": func(g *gen) val {
		s := pick(g, "The Daily", "Hardcore History", g.f.Company()+" Weekly", "Science Friday", "Planet Money", g.f.FirstName()+"'s Kitchen")
		return val{surf: s, v: s, verbatim: true}
	},
	"workout": func(g *gen) val {
		s := pick(g, "running", "cycling", "swimming", "yoga", "strength", "walking", "hiking", "rowing", "hiit")
		return val{surf: s, v: s}
	},
	"distance": func(g *gen) val {
		n := g.intIn(1, 21)
		return val{surf: g.num(n) + " " + plural(n, "kilometer"), v: float64(n)}
	},
	"metric": func(g *gen) val {
		m := [][2]string{{"heart rate", "heart_rate"}, {"blood oxygen", "spo2"}, {"steps", "steps"}, {"sleep", "sleep"}, {"blood pressure", "blood_pressure"}, {"stress level", "stress"}}
		x := m[g.r.IntN(len(m))]
		return val{surf: x[0], v: x[1]}
	},
	"period": func(g *gen) val {
		m := [][2]string{{"today", "day"}, {"this week", "week"}, {"this month", "month"}, {"last night", "day"}, {"for the week", "week"}}
		x := m[g.r.IntN(len(m))]
		return val{surf: x[0], v: x[1]}
	},
	"glasses_ml": func(g *gen) val {
		n := g.intIn(1, 4)
		return val{surf: g.num(n) + " " + plural(n, "glass") + " of water", v: n * 250}
	},
	"camera_mode": func(g *gen) val {
		x := pick(g, "photo", "video", "portrait", "panorama", "night")
		return val{surf: x, v: x}
	},
	"note_text": func(g *gen) val {
		s := pick(g, "the wifi password is on the fridge", "parking spot level three", "ideas for the "+strings.ToLower(g.f.ProductCategory())+" launch",
			"buy "+strings.ToLower(g.f.Fruit())+" and "+strings.ToLower(g.f.Vegetable()), g.f.FirstName()+" likes "+strings.ToLower(g.f.Dessert()), "gate code is "+strconv.Itoa(g.intIn(1000, 9999)))
		return val{surf: s, v: s, verbatim: true}
	},
	"list_name": func(g *gen) val {
		s := pick(g, "groceries", "shopping", "to do", "packing", "hardware store", "party")
		return val{surf: s, v: s, verbatim: true}
	},
	"items": func(g *gen) val {
		n := g.intIn(1, 4)
		var items []any
		var words []string
		for i := 0; i < n; i++ {
			it := strings.ToLower(pick(g, g.f.Fruit(), g.f.Vegetable(), g.f.Snack(), "milk", "eggs", "bread", "coffee", "batteries", "paper towels"))
			items = append(items, it)
			words = append(words, it)
		}
		return val{surf: joinAnd(words), v: items}
	},
	"item": func(g *gen) val {
		s := strings.ToLower(pick(g, g.f.Fruit(), g.f.Vegetable(), "milk", "eggs", "bread", "coffee", "batteries", "dish soap", g.f.ProductName()))
		return val{surf: s, v: s, verbatim: true}
	},
	"quantity": func(g *gen) val { n := g.intIn(1, 12); return val{surf: g.num(n), v: n} },
	"money": func(g *gen) val {
		n := g.intIn(1, 500)
		if g.r.IntN(3) == 0 {
			c := g.intIn(1, 99)
			return val{surf: fmt.Sprintf("$%d.%02d", n, c), v: float64(n) + float64(c)/100}
		}
		return val{surf: g.num(n) + " dollars", v: float64(n)}
	},
	"amount": func(g *gen) val { n := g.intIn(1, 2000); return val{surf: g.num(n), v: float64(n)} },
	"currency_from": func(g *gen) val {
		c := currencies[g.r.IntN(len(currencies))]
		if g.r.IntN(3) == 0 {
			return val{surf: c.code, v: c.code}
		}
		return val{surf: c.spoken, v: c.code}
	},
	"lang_name": func(g *gen) val {
		l := languages[g.r.IntN(len(languages))]
		return val{surf: l.name, v: l.name, verbatim: true}
	},
	"lang_code": func(g *gen) val { l := languages[g.r.IntN(len(languages))]; return val{surf: l.name, v: l.code} },
	"phrase": func(g *gen) val {
		s := pick(g, "where is the train station", "how much does this cost", "thank you very much", "I am allergic to nuts",
			"can I have the check please", "good morning", "nice to meet you", "where is the bathroom", "I need a doctor", "one coffee please")
		return val{surf: s, v: s, verbatim: true}
	},
	"flight": func(g *gen) val {
		s := pick(g, "UA", "BA", "LH", "AF", "DL", "AA", "KL", "NH") + strconv.Itoa(g.intIn(10, 2999))
		return val{surf: s, v: s}
	},
	"cuisine": func(g *gen) val {
		s := pick(g, "italian", "thai", "sushi", "mexican", "indian", "vegan", "korean", "french", "pizza", "burger")
		return val{surf: s, v: s, verbatim: true}
	},
	"party": func(g *gen) val { n := g.intIn(1, 8); return val{surf: g.num(n), v: n} },
	"tracking": func(g *gen) val {
		s := fmt.Sprintf("1Z%03d%05d%04d", g.r.IntN(1000), g.r.IntN(100000), g.r.IntN(10000))
		return val{surf: s, v: s}
	},
	"carrier": func(g *gen) val {
		s := pick(g, "ups", "fedex", "usps", "dhl")
		return val{surf: strings.ToUpper(s), v: s}
	},
	"setting": func(g *gen) val {
		x := [][2]string{{"wifi", "wifi"}, {"bluetooth", "bluetooth"}, {"airplane mode", "airplane_mode"}, {"do not disturb", "do_not_disturb"}, {"dark mode", "dark_mode"}, {"battery saver", "battery_saver"}, {"location", "location"}}
		v := x[g.r.IntN(len(x))]
		return val{surf: v[0], v: v[1]}
	},
	"text_size": func(g *gen) val {
		x := pick(g, "small", "medium", "large", "extra_large")
		return val{surf: strings.ReplaceAll(x, "_", " "), v: x}
	},
	"emergency_type": func(g *gen) val {
		x := [][2]string{{"ambulance", "medical"}, {"a doctor", "medical"}, {"the police", "police"}, {"the fire department", "fire"}}
		v := x[g.r.IntN(len(x))]
		return val{surf: v[0], v: v[1]}
	},
	"volume": func(g *gen) val { n := g.intIn(0, 10) * 10; return val{surf: g.num(n) + " percent", v: n} },
	"stock": func(g *gen) val {
		x := [][2]string{{"Apple", "AAPL"}, {"Tesla", "TSLA"}, {"Microsoft", "MSFT"}, {"Nvidia", "NVDA"}, {"Amazon", "AMZN"}, {"Google", "GOOGL"}}
		v := x[g.r.IntN(len(x))]
		if g.r.IntN(3) == 0 {
			return val{surf: v[1], v: v[1]}
		}
		return val{surf: v[0], v: v[1]}
	},
	"news_topic": func(g *gen) val {
		s := pick(g, "technology", "sports", "business", "science", "politics", "health", "world")
		return val{surf: s, v: s}
	},
	"recipe": func(g *gen) val {
		s := strings.ToLower(pick(g, g.f.Dinner(), g.f.Lunch(), g.f.Breakfast(), g.f.Dessert()))
		return val{surf: s, v: s, verbatim: true}
	},
	"zone": func(g *gen) val { n := g.intIn(1, 8); return val{surf: g.num(n), v: n} },
	"bool_repeat": func(g *gen) val {
		if g.r.IntN(2) == 0 {
			return val{surf: pick(g, "every day", "daily", "on repeat"), v: true}
		}
		return val{surf: pick(g, "just once", "one time only"), v: false}
	},
}

func plural(n int, w string) string {
	if n == 1 {
		return w
	}
	if strings.HasSuffix(w, "s") {
		return w + "es"
	}
	return w + "s"
}

func joinAnd(w []string) string {
	switch len(w) {
	case 0:
		return ""
	case 1:
		return w[0]
	}
	return strings.Join(w[:len(w)-1], ", ") + " and " + w[len(w)-1]
}

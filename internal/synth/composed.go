package synth

import (
	"encoding/json"
	"strings"

	"github.com/needle-router/needle/internal/toolspec"
)

// Procedurally composed tools: invented names, descriptions and parameters of every JSON
// type, so the model learns to read a schema rather than memorise one.

type compDomain struct {
	name    string
	objects []string
	verbs   []string
}

var compDomains = []compDomain{
	{"kitchen", []string{"oven", "coffee maker", "kettle", "dishwasher", "air fryer", "rice cooker"}, []string{"start", "schedule", "preheat", "set", "configure"}},
	{"pet care", []string{"pet feeder", "litter box", "water fountain", "pet camera", "dog walk"}, []string{"schedule", "refill", "start", "log", "book"}},
	{"finance", []string{"budget", "expense", "savings goal", "invoice", "bill"}, []string{"create", "log", "update", "pay", "split"}},
	{"study", []string{"flashcard deck", "study session", "quiz", "reading goal"}, []string{"create", "start", "schedule", "review"}},
	{"creative", []string{"sketch", "playlist", "photo album", "mood board", "voice memo"}, []string{"create", "share", "export", "rename"}},
	{"gardening", []string{"sprinkler", "plant watering", "garden light", "soil sensor"}, []string{"schedule", "start", "stop", "calibrate"}},
	{"meetings", []string{"meeting room", "video meeting", "agenda", "meeting notes"}, []string{"book", "start", "share", "schedule"}},
	{"home maintenance", []string{"repair request", "filter change", "robot vacuum", "smoke detector test"}, []string{"schedule", "start", "log", "request"}},
	{"sports", []string{"tee time", "court booking", "training plan", "race entry"}, []string{"book", "create", "cancel", "register"}},
	{"baby care", []string{"feeding log", "nap timer", "diaper log", "baby monitor"}, []string{"log", "start", "check", "record"}},
	{"subscriptions", []string{"subscription", "membership", "newsletter", "streaming plan"}, []string{"cancel", "pause", "renew", "upgrade"}},
	{"peripherals", []string{"keyboard backlight", "mouse dpi", "headset eq", "printer job"}, []string{"set", "adjust", "start", "configure"}},
	{"language learning", []string{"vocabulary drill", "lesson", "pronunciation check"}, []string{"start", "schedule", "review"}},
	{"car maintenance", []string{"oil change", "tire rotation", "service appointment", "car wash"}, []string{"book", "schedule", "log", "remind"}},
	{"event planning", []string{"guest list", "party invite", "venue booking", "catering order"}, []string{"create", "send", "book", "update"}},
}

// The last three domains are held out from training.
const heldOutCompDomains = 3

type archetype struct {
	names []string
	typ   string
	desc  string
	slot  string
	enum  []any
}

var archetypes = []archetype{
	{[]string{"quantity", "count", "portions", "repetitions", "copies"}, "integer", "How many.", "quantity", nil},
	{[]string{"duration_minutes", "minutes", "length_min"}, "integer", "Duration in minutes.", "minutes", nil},
	{[]string{"level", "zone", "slot_number", "intensity"}, "integer", "A small whole number.", "zone", nil},
	{[]string{"amount", "budget", "price_limit", "cost"}, "number", "Amount of money in dollars.", "money", nil},
	{[]string{"distance_km", "weight_kg", "volume_liters"}, "number", "A measured quantity.", "measure", nil},
	{[]string{"name", "label", "title", "nickname"}, "string", "A short name.", "timer_label", nil},
	{[]string{"contact", "owner", "assignee", "guest"}, "string", "A person's name.", "person", nil},
	{[]string{"notes", "comment", "description", "memo"}, "string", "Free-text notes.", "subject", nil},
	{[]string{"location", "venue", "address"}, "string", "Where.", "place", nil},
	{[]string{"date", "day", "when"}, "string", "Date as the user says it.", "date", nil},
	{[]string{"start_time", "time", "at"}, "string", "Time in 24-hour HH:MM.", "time24", nil},
	{[]string{"mode", "setting", "program"}, "string", "Operating mode.", "enum", []any{"eco", "normal", "boost", "quiet"}},
	{[]string{"priority", "urgency", "importance"}, "string", "Priority level.", "enum", []any{"low", "medium", "high", "urgent"}},
	{[]string{"size", "portion_size"}, "string", "Size.", "enum", []any{"small", "medium", "large"}},
	{[]string{"frequency", "recurrence", "repeat_every"}, "string", "How often it repeats.", "enum", []any{"daily", "weekly", "monthly", "yearly"}},
	{[]string{"notify", "send_notification", "alert_me"}, "boolean", "Whether to notify the user.", "bool", nil},
	{[]string{"urgent", "express", "is_priority"}, "boolean", "Whether it is urgent.", "bool", nil},
	{[]string{"tags", "items", "ingredients", "labels"}, "array", "A list of words.", "items", nil},
	{[]string{"participants", "guests", "invitees"}, "array", "People to include.", "people", nil},
}

type composed struct {
	verb, object string
	arch         []*archetype
	req          []bool
	d            *compDomain
}

func (g *gen) composeTool() *instance {
	n := len(compDomains) - heldOutCompDomains
	lo := 0
	if g.cfg.Split == HeldOut {
		lo, n = n, heldOutCompDomains
	}
	d := &compDomains[lo+g.r.IntN(n)]
	return g.composeWith(d, d.verbs[g.r.IntN(len(d.verbs))], d.objects[g.r.IntN(len(d.objects))])
}

// composeNear composes a near miss of c: the same object with another verb ("schedule the
// oven" next to "preheat the oven") or the same verb on another object of the domain.
func (g *gen) composeNear(c *composed) *instance {
	d := c.d
	verb, object := c.verb, c.object
	if g.r.IntN(2) == 0 {
		verb = d.verbs[g.r.IntN(len(d.verbs))]
	} else {
		object = d.objects[g.r.IntN(len(d.objects))]
	}
	if verb == c.verb && object == c.object {
		return nil
	}
	return g.composeWith(d, verb, object)
}

func (g *gen) composeWith(d *compDomain, verb, object string) *instance {
	c := &composed{verb: verb, object: object, d: d}
	nameStyle := 0
	if g.r.IntN(4) == 0 {
		nameStyle = 1
	}
	name := style(strings.ReplaceAll(c.verb+"_"+c.object, " ", "_"), nameStyle)
	desc := pick(g, strings.ToUpper(c.verb[:1])+c.verb[1:]+" the "+c.object+".",
		strings.ToUpper(c.verb[:1])+c.verb[1:]+"s a "+c.object+" ("+d.name+").",
		"Use this to "+c.verb+" a "+c.object+".")
	in := &instance{comp: c, domain: "composed:" + d.name}
	in.tool = toolspec.Tool{Name: name, Description: desc}
	np := 1 + g.r.IntN(4)
	usedNames := map[string]bool{}
	for len(c.arch) < np {
		a := &archetypes[g.r.IntN(len(archetypes))]
		pn := style(a.names[g.r.IntN(len(a.names))], nameStyle)
		if usedNames[pn] {
			continue
		}
		usedNames[pn] = true
		req := len(c.arch) == 0 || g.r.IntN(3) == 0
		c.arch = append(c.arch, a)
		c.req = append(c.req, req)
		p := toolspec.Param{Name: pn, Type: a.typ, Description: a.desc, Required: req, Enum: a.enum}
		if a.typ == "array" {
			p.Items = &toolspec.Param{Type: "string"}
		}
		in.tool.Params = append(in.tool.Params, p)
	}
	g.mask(in)
	return in
}

func (g *gen) archValue(a *archetype, words string) val {
	switch a.slot {
	case "enum":
		e := a.enum[g.r.IntN(len(a.enum))].(string)
		return val{surf: pick(g, e+" "+words, words+" "+e, "set to "+e), v: e}
	case "bool":
		if g.r.IntN(2) == 0 {
			return val{surf: pick(g, "with "+words+" on", "and turn "+words+" on", words+" enabled"), v: true}
		}
		return val{surf: pick(g, "with "+words+" off", "without "+words, words+" disabled"), v: false}
	case "people":
		n := 1 + g.r.IntN(3)
		var vs []any
		var ws []string
		for i := 0; i < n; i++ {
			p := g.f.FirstName()
			vs = append(vs, p)
			ws = append(ws, p)
		}
		return val{surf: words + " " + joinAnd(ws), v: vs, verbatim: true}
	}
	v := slots[a.slot](g)
	v.surf = pick(g, "with "+words+" "+v.surf, words+" "+v.surf, "set "+words+" to "+v.surf, words+": "+v.surf)
	return v
}

func (g *gen) fillComposed(in *instance) (string, json.RawMessage) {
	c := in.comp
	var phrases []string
	b := []byte{'{'}
	n := 0
	for i, a := range c.arch {
		if !c.req[i] && g.r.IntN(2) == 0 {
			continue
		}
		p := in.tool.Params[i]
		words := words(p.Name)
		if strings.HasPrefix(p.Name, "arg_") { // masked: speak of it by its description
			words = strings.TrimSuffix(strings.ToLower(p.Description), ".")
		}
		v := g.archValue(a, words)
		if g.spoken {
			v.surf = spokenText(v.surf)
			if v.verbatim {
				v.v = spokenValue(v.v)
			}
		}
		phrases = append(phrases, v.surf)
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = toolspec.AppendString(b, p.Name)
		b = append(b, ':')
		b = toolspec.AppendValue(b, v.v)
	}
	b = append(b, '}')
	q := g.speak(c.verb+" "+pick(g, "the ", "a ", "my ")+c.object) + " " + strings.Join(phrases, pick(g, " ", ", ", " and "))
	return collapseSpaces(q), b
}

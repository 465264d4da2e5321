// Package synth generates synthetic tool-calling rows {"query","tools","answers"} for
// training and evaluating Needle: hand-built tool families with several naming and
// description styles, procedurally composed tools of every JSON type, typed and spoken
// phrasings, near-miss distractors, several calls and no call. A held-out split by tool
// family and template measures transfer to unseen tools and wordings.
//
// What the data teaches, aimed at the measured failures: near misses (families listed in
// near, composed tools sharing an object or verb) so the tool must be told apart by its
// description; function masking (opaque names); no-call rows that offer only near misses of
// what is asked; parallel calls of one tool; spoken numbers, times, dates and codes whose
// value must be rewritten; invented names, places and titles; long rows with 400-1000 token
// inputs. Config.MinTools, MaxTools, MaxDescLen and Long make a short-to-long curriculum.
package synth

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode"

	"github.com/brianvoe/gofakeit/v7"

	"github.com/needle-router/needle/internal/toolspec"
)

// Split selects rows for training or for held-out validation.
type Split int

const (
	Train Split = iota
	HeldOut
)

// Config controls generation. The zero value gives training rows with the default mix.
type Config struct {
	Seed  uint64
	Split Split
	// MaxTools caps the tools offered per row (default 10). Lower it early in training:
	// short inputs teach copying fastest.
	MaxTools int
	// NoCall, Multi are the fractions of rows with no call and with several calls
	// (defaults 0.15 and 0.30); the rest have one call.
	NoCall, Multi float64
	// Spoken is the fraction of rows phrased as raw speech transcripts (default 0.35).
	Spoken float64
	// Composed is the fraction of rows whose target is a procedurally composed tool
	// (default 0.3).
	Composed float64
	// MinTools is the fewest tools offered per row (default 1). With MaxTools it makes a
	// curriculum: short rows (1-3 tools) first, then long ones (up to 10).
	MinTools int
	// MaxDescLen caps tool and parameter descriptions at this many characters, cut at a
	// sentence or word boundary (0: no cap). A small cap keeps early-curriculum inputs short.
	MaxDescLen int
	// Long is the fraction of rows whose tools carry long descriptions (usage notes, what
	// the tool is not for, examples) and extra optional parameters, for 400-1000 token
	// encoder inputs (default 0.2; negative for none).
	Long float64
	// Mask is the fraction of tools whose name is replaced with an opaque identifier
	// (function masking), so the tool must be chosen by its description (default 0.08;
	// negative for none). A third of masked tools get opaque parameter names too.
	Mask float64
	// NearMiss is the chance that a distractor is a near miss of the target: a family
	// listed in near, or a composed tool of the same object or verb (default 0.6;
	// negative for none).
	NearMiss float64
	// Written is the fraction of rows whose target is a written API tool (calculations and
	// lookups asked in written sentences, written.go), also offered as distractors and asked
	// for unserved in no-call rows. Zero means none, so the rows of earlier seeds and the
	// held-out split of `needle eval synth` stay as they were; `needle data` passes 0.3.
	Written float64
}

func (c *Config) ensureDefaults() {
	if c.MaxTools <= 0 {
		c.MaxTools = 10
	}
	if c.NoCall == 0 {
		c.NoCall = 0.15
	}
	if c.Multi == 0 {
		c.Multi = 0.30
	}
	if c.Spoken == 0 {
		c.Spoken = 0.35
	}
	if c.Composed == 0 {
		c.Composed = 0.3
	}
	if c.MinTools <= 0 {
		c.MinTools = 1
	}
	if c.MaxTools < c.MinTools {
		c.MaxTools = c.MinTools
	}
	if c.MaxTools > len(toolCountWeights) {
		c.MaxTools = len(toolCountWeights)
	}
	if c.MinTools > c.MaxTools {
		c.MinTools = c.MaxTools
	}
	def := func(x *float64, d float64) {
		if *x == 0 {
			*x = d
		} else if *x < 0 {
			*x = 0
		}
	}
	def(&c.Long, 0.2)
	def(&c.Mask, 0.08)
	def(&c.NearMiss, 0.6)
}

// Row is one training example in the NEEDLE-SPEC.md JSONL format.
type Row struct {
	Query   string          `json:"query"`
	Tools   json.RawMessage `json:"tools"`
	Answers []Answer        `json:"answers"`
	// Functions names what each offered tool does (its family, composed verb and object,
	// or written subject), parallel to Tools: tools of one function under other names and
	// descriptions share it. Not written out; retrieval evaluation uses it to build a
	// catalogue of distinct tools.
	Functions []string `json:"-"`
}

// Answer is one expected call; Arguments keep the tool's parameter order.
type Answer struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

type gen struct {
	r       *rand.Rand
	f       *gofakeit.Faker
	spoken  bool
	long    bool
	cfg     *Config
	unitDim string // the dimension of the last unit said, so "to" units match "from" units
}

// instance is a tool drawn from a family or composed, with what is needed to fill queries.
type instance struct {
	tool   toolspec.Tool
	fam    *family        // nil for composed tools
	alts   map[string]int // param key -> chosen alt (hand-built)
	keys   []string       // param keys in tool param order
	comp   *composed
	ws     *wSubj  // written API subject
	wq     []*wQty // its parameters' kinds, in tool param order
	domain string
}

// Generator produces rows deterministically from Config.Seed: row i depends only on the seed,
// the split and i, so rows can be made in parallel and any row can be regenerated.
type Generator struct{ cfg Config }

// New returns a generator.
func New(cfg Config) *Generator {
	cfg.ensureDefaults()
	return &Generator{cfg: cfg}
}

// Row generates row i.
func (gn *Generator) Row(i uint64) Row {
	src := rand.NewPCG(gn.cfg.Seed^uint64(gn.cfg.Split)<<56, i)
	g := &gen{r: rand.New(src), cfg: &gn.cfg}
	g.f = gofakeit.NewFaker(rand.NewPCG(i, gn.cfg.Seed+17), false)
	return g.row()
}

var toolCountWeights = []int{8, 10, 14, 14, 14, 12, 10, 8, 5, 5}

func (g *gen) toolCount(min int) int {
	max := g.cfg.MaxTools
	if min < g.cfg.MinTools {
		min = g.cfg.MinTools
	}
	if min > max {
		return min
	}
	tot := 0
	for i := min - 1; i < max; i++ {
		tot += toolCountWeights[i]
	}
	x := g.r.IntN(tot)
	for i := min - 1; i < max; i++ {
		x -= toolCountWeights[i]
		if x < 0 {
			return i + 1
		}
	}
	return max
}

func (g *gen) drawFamily(exclude map[string]bool, domain string) *family {
	for tries := 0; tries < 64; tries++ {
		f := &families[g.r.IntN(len(families))]
		if exclude[f.key] || (domain != "" && f.domain != domain && tries < 32) {
			continue
		}
		if g.cfg.Split == Train && heldOutFamilies[f.key] {
			continue
		}
		return f
	}
	return nil
}

func (g *gen) row() Row {
	g.spoken = g.r.Float64() < g.cfg.Spoken
	g.long = g.r.Float64() < g.cfg.Long
	kind := g.r.Float64()
	nCalls := 1
	switch {
	case kind < g.cfg.NoCall:
		nCalls = 0
	case kind < g.cfg.NoCall+g.cfg.Multi:
		nCalls = 2 + g.r.IntN(2)*g.r.IntN(2)
	}
	nCalls = min(nCalls, g.cfg.MaxTools)
	var targets []*instance
	used := map[string]bool{}
	for c := 0; c < nCalls; c++ {
		var in *instance
		if g.cfg.Written > 0 && g.r.Float64() < g.cfg.Written {
			if i := g.writtenIndex("", nil); i >= 0 {
				in = g.writtenTool(i)
			}
		} else if g.r.Float64() < g.cfg.Composed {
			in = g.composeTool()
		} else {
			f := g.drawFamily(used, "")
			if g.cfg.Split == HeldOut && c == 0 && g.r.IntN(2) == 0 {
				f = g.heldOutFamily()
			}
			if f == nil {
				continue
			}
			in = g.instantiate(f)
		}
		if in == nil {
			continue
		}
		if used[in.key()] || hasName(targets, in.tool.Name) {
			continue // two calls of one row never share a tool name, but see parallel below
		}
		used[in.key()] = true
		targets = append(targets, in)
	}
	// Written requests are typed: their values (codes, formulas, "Boston, MA", lists) would
	// not survive the speech recogniser's lower case and dropped punctuation.
	written := false
	for _, t := range targets {
		written = written || t.ws != nil
	}
	if written {
		g.spoken = false
	}
	// Parallel calls of one tool ("set timers for five and ten minutes"): now and then a
	// multi-call row calls its first tool twice with different values.
	parallel := len(targets) >= 2 && g.r.IntN(6) == 0
	if parallel {
		targets = targets[:1]
	}
	// A no-call row now and then asks for a family while offering only its near misses.
	var noCallFam *family
	if nCalls == 0 && g.r.IntN(2) == 0 {
		if f := g.drawFamily(used, ""); f != nil && !ambiguousNoCall[f.key] && len(g.safeNear(f, used)) > 0 {
			noCallFam = f
			used[f.key] = true
			for _, k := range couldServe[f.key] {
				used[k] = true // never offered in this row
			}
		}
	}
	// A written no-call row asks for a calculation or lookup whose tool is not offered.
	var noCallWS *wSubj
	noCallWI := -1
	if nCalls == 0 && noCallFam == nil && g.cfg.Written > 0 && g.r.Float64() < g.cfg.Written {
		if i := g.writtenIndex("", nil); i >= 0 && !ambiguousWritten[wSubjs[i].object] {
			noCallWS, noCallWI = &wSubjs[i], i
			used["written:"+noCallWS.object] = true
		}
	}
	n := g.toolCount(max(1, len(targets)))
	offered := append([]*instance(nil), targets...)
	for tries := 0; len(offered) < n && tries < 200; tries++ {
		var in *instance
		if g.r.Float64() < g.cfg.NearMiss {
			if noCallWS != nil {
				if i := g.writtenIndex(noCallWS.domain, noCallWS); i >= 0 {
					in = g.writtenTool(i)
				}
			} else {
				in = g.nearMiss(targets, noCallFam, used)
			}
		}
		if in == nil && len(targets) > 0 && g.r.IntN(3) == 0 && targets[0].fam != nil {
			// Same domain: a looser near miss.
			if f := g.drawFamily(used, targets[0].domain); f != nil {
				in = g.instantiate(f)
			}
		}
		if in == nil && g.cfg.Written > 0 && g.r.Float64() < g.cfg.Written {
			if i := g.writtenIndex("", nil); i >= 0 {
				in = g.writtenTool(i)
			}
		}
		if in == nil {
			if g.r.IntN(3) == 0 {
				in = g.composeTool()
			} else if f := g.drawFamily(used, ""); f != nil {
				in = g.instantiate(f)
			}
		}
		if in == nil || used[in.key()] || hasName(offered, in.tool.Name) {
			continue
		}
		used[in.key()] = true
		offered = append(offered, in)
	}
	g.r.Shuffle(len(offered), func(i, j int) { offered[i], offered[j] = offered[j], offered[i] })

	var parts []string
	var answers []Answer
	for _, t := range targets {
		q, args := g.fill(t)
		parts = append(parts, q)
		answers = append(answers, Answer{Name: t.tool.Name, Arguments: args})
	}
	if parallel {
		for try := 0; try < 4; try++ {
			q, args := g.fill(targets[0])
			if string(args) != string(answers[0].Arguments) && q != parts[0] {
				parts = append(parts, q)
				answers = append(answers, Answer{Name: targets[0].tool.Name, Arguments: args})
				break
			}
		}
	}
	var query string
	switch {
	case noCallFam != nil:
		query, _ = g.fill(g.instantiate(noCallFam))
	case noCallWS != nil:
		g.spoken, written = false, true
		query, _ = g.fillWritten(g.writtenTool(noCallWI))
	case len(targets) == 0:
		query = g.unrelated(used)
	default:
		query = parts[0]
		for _, p := range parts[1:] {
			if written && p != "" && !strings.HasPrefix(p, "I ") {
				p = strings.ToLower(p[:1]) + p[1:] // a written part starts a sentence
			}
			query += pick(g, " and ", " and then ", ", then ", " then ", ", also ", ". Also ", " and also ", ", and ") + p
		}
	}
	if written {
		query = g.closeWritten(query)
	} else {
		query = g.dress(query)
	}
	tools := make([]toolspec.Tool, len(offered))
	funcs := make([]string, len(offered))
	for i, o := range offered {
		tools[i] = o.tool
		funcs[i] = o.function()
	}
	if g.long {
		g.lengthen(offered, tools)
	}
	if g.cfg.MaxDescLen > 0 {
		for i := range tools {
			capDescs(&tools[i], g.cfg.MaxDescLen)
		}
	}
	if answers == nil {
		answers = []Answer{}
	}
	return Row{Query: query, Tools: toolspec.AppendJSON(nil, tools), Answers: answers, Functions: funcs}
}

// ambiguousNoCall families are never the subject of a near-miss no-call row: a bare "play X"
// could be served by another media tool, so "no call" would be a wrong label.
var ambiguousNoCall = map[string]bool{"music": true, "podcast": true, "radio": true, "audiobook": true, "note": true}

// nearOf lists the near-miss families of f that this split may offer.
func (g *gen) nearOf(f *family, used map[string]bool) []*family {
	var out []*family
	for _, k := range near[f.key] {
		nf := familyByKey[k]
		if nf == nil || used[k] || (g.cfg.Split == Train && heldOutFamilies[k]) {
			continue
		}
		out = append(out, nf)
	}
	return out
}

// couldServe lists near misses that could still serve some request of the family ("take me to
// the nearest pharmacy" is also navigation): never the only tools of a no-call row.
var couldServe = map[string][]string{
	"find_nearby": {"navigate"}, "transit": {"navigate", "ride"}, "navigate": {"transit", "ride", "find_nearby"}, "ride": {"navigate", "transit"},
	"share_eta": {"message"}, "sun_times": {"weather"}, "weather": {"sun_times", "air_quality"}, "air_quality": {"weather"},
	"coffee": {"food_order", "shopping"}, "food_order": {"shopping", "coffee"}, "shopping": {"food_order", "coffee"},
	"reminder": {"calendar"}, "calendar": {"reminder"}, "video": {"camera"}, "camera": {"video"}, "list": {"shopping", "note"},
	"announce": {"message"}, "message": {"announce"}, "meal": {"water"}, "workout": {"stopwatch"}, "breathe": {"timer"},
}

// safeNear is nearOf without the near misses that could serve a request of f.
func (g *gen) safeNear(f *family, used map[string]bool) []*family {
	var out []*family
	for _, nf := range g.nearOf(f, used) {
		ok := true
		for _, k := range couldServe[f.key] {
			if nf.key == k {
				ok = false
			}
		}
		if ok {
			out = append(out, nf)
		}
	}
	return out
}

// nearMiss draws a distractor easy to confuse with one of the targets (or, in a no-call
// row, with the family the query asks for).
func (g *gen) nearMiss(targets []*instance, noCallFam *family, used map[string]bool) *instance {
	var anchor *instance
	var fam *family
	switch {
	case noCallFam != nil:
		fam = noCallFam
	case len(targets) > 0:
		anchor = targets[g.r.IntN(len(targets))]
		fam = anchor.fam
		if anchor.ws != nil {
			if i := g.writtenIndex(anchor.ws.domain, anchor.ws); i >= 0 {
				return g.writtenTool(i)
			}
			return nil
		}
	default:
		return nil
	}
	if fam != nil {
		c := g.nearOf(fam, used)
		if noCallFam != nil {
			c = g.safeNear(fam, used)
		}
		if len(c) == 0 {
			return nil
		}
		return g.instantiate(c[g.r.IntN(len(c))])
	}
	return g.composeNear(anchor.comp)
}

var familyByKey = map[string]*family{}

func init() {
	for i := range families {
		familyByKey[families[i].key] = &families[i]
	}
}

func hasName(in []*instance, name string) bool {
	for _, x := range in {
		if x.tool.Name == name {
			return true
		}
	}
	return false
}

// function names what the instance does, whatever its name: key() of a hand-built family or
// a written subject; a composed tool's domain, verb and object.
func (in *instance) function() string {
	if in.comp != nil {
		return "composed:" + in.comp.d.name + ":" + in.comp.verb + " " + in.comp.object
	}
	return in.key()
}

func (in *instance) key() string {
	if in.fam != nil {
		return in.fam.key
	}
	if in.ws != nil {
		return "written:" + in.ws.object
	}
	return "composed:" + in.tool.Name
}

func (g *gen) heldOutFamily() *family {
	var keys []int
	for i := range families {
		if heldOutFamilies[families[i].key] {
			keys = append(keys, i)
		}
	}
	return &families[keys[g.r.IntN(len(keys))]]
}

// unrelated produces a request that none of the offered tools serves.
func (g *gen) unrelated(used map[string]bool) string {
	if g.r.IntN(2) == 0 {
		return chatter[g.r.IntN(len(chatter))]
	}
	f := g.drawFamily(used, "")
	for try := 0; f != nil && servedBy(f, used) && try < 8; try++ {
		f = g.drawFamily(used, "")
	}
	if f == nil || servedBy(f, used) {
		return chatter[g.r.IntN(len(chatter))]
	}
	q, _ := g.fill(g.instantiate(f))
	return q
}

// servedBy reports whether an offered family could serve a request of f.
func servedBy(f *family, offered map[string]bool) bool {
	for _, k := range couldServe[f.key] {
		if offered[k] {
			return true
		}
	}
	return false
}

// style renders a snake_case identifier in one of the naming conventions tools use.
func style(s string, k int) string {
	switch k {
	case 1: // camelCase
		parts := strings.FieldsFunc(s, func(r rune) bool { return r == '_' })
		for i := 1; i < len(parts); i++ {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
		return strings.Join(parts, "")
	}
	return s
}

func (g *gen) instantiate(f *family) *instance {
	nameStyle := 0
	if g.r.IntN(4) == 0 {
		nameStyle = 1
	}
	name := style(f.names[g.r.IntN(len(f.names))], nameStyle)
	if g.r.IntN(8) == 0 && !strings.Contains(name, ".") {
		name = f.domain + "." + name
	}
	in := &instance{fam: f, alts: map[string]int{}, domain: f.domain}
	in.tool = toolspec.Tool{Name: name, Description: f.descs[g.r.IntN(len(f.descs))]}
	for _, p := range f.params {
		ai := g.r.IntN(len(p.alts))
		a := p.alts[ai]
		in.alts[p.key] = ai
		tp := toolspec.Param{Name: style(a.names[g.r.IntN(len(a.names))], nameStyle), Type: a.typ,
			Description: a.descs[g.r.IntN(len(a.descs))], Required: p.req, Enum: a.enum}
		if a.items != "" {
			tp.Items = &toolspec.Param{Type: a.items}
		}
		in.tool.Params = append(in.tool.Params, tp)
		in.keys = append(in.keys, p.key)
	}
	g.shuffleParams(in)
	g.mask(in)
	return in
}

func (g *gen) shuffleParams(in *instance) {
	if g.r.IntN(3) != 0 {
		return
	}
	ps, ks := in.tool.Params, in.keys
	g.r.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i]; ks[i], ks[j] = ks[j], ks[i] })
}

var opaqueWords = []string{"falcon", "quartz", "meridian", "tangent", "orbit", "pebble", "cobalt", "lumen", "vector", "harbor",
	"delta", "juniper", "nimbus", "prism", "sierra", "willow", "zephyr", "atlas", "ember", "kestrel", "onyx", "tulip", "marble", "comet"}

// mask replaces names with opaque or unrelated ones now and then ("function masking"), so the
// model must read descriptions rather than guess the tool from its name.
func (g *gen) mask(in *instance) {
	if g.r.Float64() >= g.cfg.Mask {
		return
	}
	switch g.r.IntN(5) {
	case 0:
		in.tool.Name = "fn_" + strings.ToLower(g.f.LetterN(uint(3+g.r.IntN(4))))
	case 1:
		in.tool.Name = pick(g, "tool_", "op", "action_", "api_", "f") + strconv.Itoa(g.intIn(1, 999))
	case 2:
		in.tool.Name = opaqueWords[g.r.IntN(len(opaqueWords))] + "_" + opaqueWords[g.r.IntN(len(opaqueWords))]
	case 3:
		in.tool.Name = strings.ToLower(g.coined()) + pick(g, "", "_v2", "_run", "_go")
	default:
		in.tool.Name = "fn_" + g.f.LetterN(uint(3+g.r.IntN(4)))
	}
	if g.r.IntN(3) == 0 {
		for i := range in.tool.Params {
			in.tool.Params[i].Name = "arg_" + g.f.LetterN(uint(2+g.r.IntN(3)))
		}
	}
}

// fill picks a template of the instance and fills it; it returns the query part and the
// arguments JSON in the tool's parameter order.
func (g *gen) fill(in *instance) (string, json.RawMessage) {
	if in.comp != nil {
		return g.fillComposed(in)
	}
	if in.ws != nil {
		return g.fillWritten(in)
	}
	f := in.fam
	tpls := f.tpls
	// The last template of each family is held out: the training split never sees it.
	if g.cfg.Split == Train {
		tpls = tpls[:len(tpls)-1]
	} else if !heldOutFamilies[f.key] && g.r.IntN(2) == 0 {
		tpls = tpls[len(tpls)-1:]
	}
	tpl := expandAlternatives(g, tpls[g.r.IntN(len(tpls))])
	vals := map[string]val{}
	var sb strings.Builder
	for len(tpl) > 0 {
		i := strings.IndexByte(tpl, '{')
		if i < 0 {
			sb.WriteString(g.speak(tpl))
			break
		}
		j := strings.IndexByte(tpl[i:], '}') + i
		sb.WriteString(g.speak(tpl[:i]))
		key := tpl[i+1 : j]
		p := f.paramByKey(key)
		a := p.alts[in.alts[key]]
		v := slots[a.slot](g)
		for try := 0; try < 5 && sameValue(vals, v); try++ {
			v = slots[a.slot](g) // two slots of one call never say the same thing
		}
		if g.spoken {
			v.surf = spokenText(v.surf)
			if v.verbatim {
				v.v = spokenValue(v.v)
			}
			if v.verbatim && g.r.IntN(12) == 0 {
				// A self-correction: the first value said is not the one meant.
				if w := slots[a.slot](g); fmt.Sprint(w.v) != fmt.Sprint(v.v) && !strings.Contains(v.surf, spokenText(w.surf)) {
					v.surf = spokenText(w.surf) + " " + pick(g, "no", "no wait", "sorry I mean", "actually", "I mean", "make that", "uh no") + " " + v.surf
				}
			}
		}
		vals[key] = v
		sb.WriteString(v.surf)
		tpl = tpl[j+1:]
	}
	b := []byte{'{'}
	n := 0
	for i, k := range in.keys {
		v, ok := vals[k]
		if !ok {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = toolspec.AppendString(b, in.tool.Params[i].Name)
		b = append(b, ':')
		b = toolspec.AppendValue(b, v.v)
	}
	b = append(b, '}')
	return collapseSpaces(sb.String()), b
}

func (f *family) paramByKey(k string) *param {
	for i := range f.params {
		if f.params[i].key == k {
			return &f.params[i]
		}
	}
	panic(fmt.Sprintf("synth: family %s has no param %s", f.key, k))
}

func expandAlternatives(g *gen, s string) string {
	for {
		i := strings.IndexByte(s, '(')
		if i < 0 {
			return s
		}
		j := strings.IndexByte(s[i:], ')') + i
		opts := strings.Split(s[i+1:j], "|")
		s = s[:i] + opts[g.r.IntN(len(opts))] + s[j+1:]
	}
}

// speak rewrites template text in spoken style, sometimes inserting a filler.
func (g *gen) speak(s string) string {
	if !g.spoken {
		return s
	}
	s = spokenText(s)
	if g.r.IntN(6) == 0 {
		if k := strings.IndexByte(s, ' '); k > 0 {
			s = s[:k] + " " + pick(g, "um", "uh", "like", "er", "you know", "so", "hmm", "uhh") + s[k:]
		}
	}
	return s
}

// spokenText is what a speech recogniser would print: lower case, no punctuation marks.
// It maps character by character, so a value copied from the query stays a substring.
func spokenText(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ',', '.', '?', '!', ';', ':', '"':
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

var prefixes = []string{"", "", "", "", "", "", "please ", "can you ", "could you ", "hey, ", "I'd like you to ", "would you ", "okay ", "hey needle, ",
	"I need you to ", "go ahead and ", "quick one, ", "real quick ", "I was wondering if you could ", "ok needle ", "needle, ", "yo ", "alright ", "would you mind, "}

// neutralPrefixes fit any request; the others ("can you", "I'd like you to") need a verb next.
var neutralPrefixes = []string{"", "", "", "", "", "", "hey, ", "okay ", "hey needle, ", "quick one, ", "real quick ", "ok needle ", "needle, ", "yo ", "alright "}

// verbs that may follow a request prefix; a query starting otherwise ("stock price of X",
// "I drank ...") gets a neutral prefix.
var verbs = map[string]bool{}

func init() {
	for _, v := range strings.Fields(`set start make remind add put create send text message call ring phone dial play turn switch book order
		get find take navigate log track record translate convert pay show read open lock unlock cancel delete schedule check tell give share
		vacuum clean announce broadcast split request ask look search pause skip resume dim buy reserve write note jot save email compose draft
		begin wake enable disable stop count let keep pull leave charge bill divide mark film capture snap grab tune continue listen head bump
		change stick reply shoot ping precondition warm cool time run preheat configure refill update rename export calibrate review register
		renew upgrade adjust drive close raise lower reorder purchase measure say route start fade mute unpause go remove cancel deliver
		send calculate list`) {
		verbs[v] = true
	}
	for _, d := range compDomains {
		for _, v := range d.verbs {
			verbs[v] = true
		}
	}
}

var suffixes = []string{"", "", "", "", "", " please", " thanks", " thank you", " for me", " right now", " asap", " if you can", " cheers", " thanks a lot", " when you get a chance"}

// dress adds politeness, case and punctuation (typed style) or strips them (spoken).
func (g *gen) dress(q string) string {
	if !isQuestion(q) {
		first, _, _ := strings.Cut(q, " ")
		if verbs[strings.ToLower(first)] {
			q = prefixes[g.r.IntN(len(prefixes))] + q
		} else {
			q = neutralPrefixes[g.r.IntN(len(neutralPrefixes))] + q
		}
	}
	q += suffixes[g.r.IntN(len(suffixes))]
	if g.spoken {
		if g.r.IntN(5) == 0 {
			q = pick(g, "um ", "uh ", "so ", "okay so ") + q
		}
		return collapseSpaces(spokenText(q))
	}
	q = collapseSpaces(q)
	if g.r.IntN(2) == 0 && q != "" {
		q = strings.ToUpper(q[:1]) + q[1:]
	}
	if g.r.IntN(3) == 0 {
		q += pick(g, ".", "?", "!")
	}
	return q
}

func collapseSpaces(s string) string { return strings.Join(strings.Fields(s), " ") }

func spokenValue(v any) any {
	switch x := v.(type) {
	case string:
		return spokenText(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = spokenValue(e)
		}
		return out
	}
	return v
}

func isQuestion(q string) bool {
	for _, w := range []string{"what", "how", "is ", "where", "when", "who", "any ", "tell ", "thank", "never", "good", "sing", "explain", "recommend", "i'm", "I'm"} {
		if strings.HasPrefix(q, w) {
			return true
		}
	}
	return false
}

func sameValue(vals map[string]val, v val) bool {
	for _, x := range vals {
		if fmt.Sprint(x.v) == fmt.Sprint(v.v) {
			return true
		}
	}
	return false
}

// words turns an identifier (snake_case or camelCase) into the words a person would say.
func words(id string) string {
	var sb strings.Builder
	for i, r := range id {
		if r == '_' || r == '.' {
			sb.WriteByte(' ')
			continue
		}
		if unicode.IsUpper(r) && i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteRune(unicode.ToLower(r))
	}
	return sb.String()
}

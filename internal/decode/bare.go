package decode

import (
	"encoding/json"
	"strings"

	"github.com/kljensen/snowball/english"

	"github.com/needle-router/needle/internal/lexical"
	"github.com/needle-router/needle/internal/toolspec"
)

// Bare calls that leave words unexplained. On the real development sets the shipped model's
// most confident errors, after a wrong tool, were calls without arguments whose request said
// what the argument was: "send an email to chelsea" -> email_sendemail {}, "tell me a joke
// about birds" -> general_joke {}, "delete the dog list" -> lists_remove {}, each at 0.9999+
// (45 of the 128 errors among the 30% most confident answers). A call that takes no
// argument from the request although its tool has parameters is only complete when the
// request says nothing beyond what the tool is for; a content word that neither an offered
// call's tool (name and description) nor any argument value accounts for is evidence that an
// argument was left out. Such an answer keeps its calls, but its confidence is scaled by
// bareScale, below any threshold worth using, so it escalates.

// bareScale multiplies the confidence of a bare call that leaves words unexplained; it keeps
// such answers ordered among themselves (calibration curves) and below 0.99.
const bareScale = 0.99

// fillerWords are the stems of words of a spoken request that name no argument: politeness,
// the assistant's wake words, request verbs, disfluencies and the pieces contractions leave
// when words split at the apostrophe ("i'd" -> "i", "d"), beyond English stop words.
var fillerWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`please pls kindly hey hi hello ok okay yes yeah thanks thank
		alexa siri google olly needle assistant
		tell say show give let lets get got make want wanna need like know would could can
		may might must shall will just now also still right actually maybe
		something anything thing things one ones much many bit lot
		um uh er erm hmm ah oh
		d ll re ve m won didn doesn isn aren wasn weren couldn wouldn shouldn haven hasn`) {
		fillerWords[english.Stem(w, false)] = true
	}
}

// bareUnexplained reports whether calls hold a call without arguments to a tool that has
// parameters while the transcript has a content word (not a stop or filler word; words as
// lexical.Terms splits and stems them) that no call's tool name or description and no argument value contains.
func bareUnexplained(calls []toolspec.Call, tools []Tool, transcript string) bool {
	bare := false
	known := map[string]bool{}
	for _, c := range calls {
		spec := specOf(tools, c.Name)
		if spec == nil {
			return false // a tool without its spec: nothing to judge by
		}
		keys, vals, err := toolspec.OrderedObject(c.Arguments)
		if err != nil {
			return false
		}
		if len(keys) == 0 && len(spec.Params) > 0 {
			bare = true
		}
		for _, t := range lexical.Terms(spec.Name + " " + spec.Description) {
			known[t] = true
		}
		for _, v := range vals {
			text := string(v)
			var str string
			if json.Unmarshal(v, &str) == nil { // "Chlo\u00e9" explains "Chloé"
				text = str
			}
			for _, t := range lexical.Terms(text) {
				known[t] = true
			}
		}
	}
	if !bare {
		return false
	}
	// Terms keeps a few stop words that tell tools apart ("on", "off"); they name no argument.
	for _, t := range lexical.Terms(transcript) {
		if !english.IsStopWord(t) && !fillerWords[t] && !known[t] {
			return true
		}
	}
	return false
}

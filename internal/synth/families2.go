package synth

import (
	"fmt"
	"strconv"
	"strings"
)

// More hand-built families, chosen as near misses of the first catalogue (a stopwatch next to a
// timer, a voice note next to a text, a payment request next to a payment) so that telling
// them apart takes reading the description. As in families.go, the last template of each
// family is held out.
var families2 = []family{
	F("stopwatch", "watch", "start_stopwatch|stopwatch_start|begin_stopwatch|stopwatch.start",
		"Start a stopwatch that counts up from zero, with no end time.|Starts timing elapsed time (counts up; not a countdown).",
		Ps(O("label", A("string", "label|name|title", "Optional label for the lap record.|Name of what is being timed.", "timer_label"))),
		"start (a|the) stopwatch", "start timing {label}", "stopwatch (on|go|start)", "time how long the {label} takes", "(begin|start) a stopwatch for {label}", "count up from zero for {label}"),
	F("cancel_alarm", "watch", "delete_alarm|cancel_alarm|remove_alarm|alarm_delete|alarms.remove",
		"Delete an existing alarm set for a given time.|Cancels an alarm so it no longer rings.|Removes an alarm; does not create one.",
		Ps(R("time", A("string", "time|alarm_time|at", "Time of the alarm to delete, HH:MM 24-hour.|Which alarm, as HH:MM (24-hour clock).", "time24"))),
		"cancel my {time} alarm", "delete the alarm (at|for) {time}", "turn off the {time} alarm for good", "I don't need the {time} alarm anymore", "get rid of my alarm at {time}", "remove alarm {time}"),
	F("sleep_timer", "glasses", "set_sleep_timer|sleep_timer|stop_playback_after|media.sleep_timer",
		"Stop music or podcast playback after a number of minutes.|Pauses media automatically after the given minutes (sleep timer). Not a kitchen timer.",
		Ps(R("dur", A("integer", "minutes|after_minutes|duration_minutes", "Minutes until playback stops.|Stop playback after this many minutes.", "minutes"))),
		"stop the music in {dur}", "sleep timer {dur}", "turn off the (music|audio) after {dur}", "(pause|stop) playback after {dur}", "I'm falling asleep, stop playing in {dur}", "fade out the music in {dur}"),
	F("voice_note", "phone", "send_voice_message|voice_message|send_audio_note|record_voice_note",
		"Record and send a voice message (audio, not text) to a contact.|Sends a recorded audio clip to someone.",
		Ps(R("to", A("string", "recipient|to|contact", "Who receives the voice message.|Contact name.", "person"))),
		"send a voice (message|note) to {to}", "record a voice message for {to}", "voice note {to}", "I want to send {to} an audio message", "(record|send) {to} a quick voice memo", "leave {to} a voice memo"),
	F("read_messages", "phone", "read_messages|get_unread_messages|check_messages|inbox.read",
		"Read out unread text messages.|Reads the latest received messages, optionally only from one contact.",
		Ps(O("from", A("string", "from|sender|contact", "Only messages from this contact.|Sender name filter.", "person")),
			O("count", A("integer", "count|limit|max_messages", "How many messages to read.|Number of messages.", "quantity"))),
		"read my messages", "any (new|unread) messages from {from}", "read the last {count} messages", "what did {from} (text|send) me", "did {from} write back", "read me {count} messages from {from}"),
	F("media_control", "glasses", "media_control|playback_control|player.command|control_playback",
		"Control current playback: pause, resume, skip to the next track or go back.|Send a transport command to the media player.",
		Ps(R("action", E("action|command|op", "Playback command.|What the player should do.", "media_action", "next", "previous", "pause", "resume"))),
		"{action}", "(can you|please) {action}", "{action} (now|for me)", "hey {action}", "just {action}"),
	F("radio", "glasses", "play_radio|radio.tune|tune_station|play_station",
		"Tune in to a live radio station.|Plays a live FM or internet radio station.",
		Ps(R("station", A("string", "station|station_name|channel", "Station name.|Radio station to play.", "radio_station"),
			A("number", "frequency|fm_frequency|mhz", "FM frequency in MHz, e.g. 98.1.|Frequency of the FM station (MHz).", "fm_freq"))),
		"(play|put on) {station} radio", "tune (in|) to {station}", "radio {station}", "(switch|change) the radio to {station}", "listen to {station} live"),
	F("audiobook", "glasses", "play_audiobook|audiobook.play|resume_audiobook|listen_book",
		"Play an audiobook by title.|Starts or resumes an audiobook.",
		Ps(R("title", A("string", "title|book|book_title", "Book title.|Audiobook to play.", "book_title")),
			O("speed", A("number", "speed|playback_rate|rate", "Playback speed, 1.0 is normal.|Playback rate (1.0 = normal speed).", "play_speed"))),
		"play the audiobook {title}", "continue {title}", "read me {title} at {speed}", "listen to the book {title}", "play {title} at {speed}"),
	F("find_nearby", "car", "find_nearby|search_nearby|places.search|nearby_places|find_places",
		"Search for places of a category near the current location.|Finds nearby businesses or points of interest by category.",
		Ps(R("what", A("string", "category|query|what|place_type", "Kind of place to look for.|Category, e.g. pharmacy.", "nearby_cat")),
			O("radius", A("number", "radius_km|within_km|max_distance_km", "Search radius in kilometers.|Maximum distance, km.", "distance"))),
		"find a {what} nearby", "where's the nearest {what}", "any {what} within {radius}", "(search|look) for a {what} near me", "I need a {what} close by", "{what} near here"),
	F("share_eta", "car", "share_eta|send_eta|share_arrival_time|eta.share",
		"Share the live arrival time of the current trip with a contact.|Sends a contact a live link with your estimated arrival.",
		Ps(R("to", A("string", "contact|to|recipient", "Who gets the arrival time.|Contact to share the ETA with.", "person"))),
		"share my eta with {to}", "let {to} know when I'll arrive", "send {to} my arrival time", "share my trip with {to}", "keep {to} posted on my arrival", "tell {to} my eta"),
	F("parking", "car", "pay_parking|start_parking|parking.pay|park_session",
		"Pay for street parking in a zone for a number of hours.|Starts a paid parking session.",
		Ps(R("zone", A("string", "zone|zone_code|location_code", "Parking zone number as printed on the sign.|Zone code (digits).", "zone_code")),
			O("hours", A("integer", "hours|duration_hours", "How many hours.|Parking duration in hours.", "hours"))),
		"pay for parking in zone {zone} for {hours}", "start parking {zone}", "park me in zone {zone} for {hours}", "parking zone {zone}", "I parked in zone {zone}, {hours} please", "pay parking {zone} {hours}"),
	F("transit", "travel", "transit_directions|next_departure|public_transport_route|transit.route",
		"Find public transport (bus, train, subway) routes and departures to a destination.|Transit directions; not for driving.",
		Ps(R("dest", A("string", "destination|to|stop", "Where to go.|Destination stop or place.", "place")),
			O("depart", A("string", "depart_at|departure_time|leave_at", "Departure time HH:MM, 24-hour.|When to leave (HH:MM).", "time24"))),
		"next train to {dest}", "how do I get to {dest} by bus", "public transport to {dest} leaving at {depart}", "(bus|subway) route to {dest}", "which train gets me to {dest} at {depart}", "when's the next bus to {dest}"),
	F("hotel", "travel", "book_hotel|hotel.reserve|reserve_room|find_hotel_room",
		"Book a hotel room in a city.|Reserves a hotel room for a number of nights.",
		Ps(R("city", A("string", "city|location|destination", "City of the hotel.|Where to stay.", "city")),
			R("nights", A("integer", "nights|num_nights|stay_length", "Number of nights.|How many nights.", "quantity")),
			O("guests", A("integer", "guests|adults|people", "Number of guests.|Guests.", "party"))),
		"book a hotel in {city} for {nights} nights", "I need a room in {city} for {nights} nights for {guests}", "hotel {city} {nights} nights", "reserve {nights} nights in {city}", "find me a place to stay in {city} for {nights} nights"),
	F("fan", "home", "set_fan|fan_speed|control_fan|fan.set",
		"Set the speed of a ceiling or standing fan, 0 (off) to 5 (max).|Controls a fan's speed level.",
		Ps(R("room", A("string", "room|area", "Which room's fan.|Room.", "room")),
			R("speed", A("integer", "speed|level|fan_level", "Speed 0-5; 0 is off, 5 is max.|Fan speed level from 0 to 5.", "fan_speed"))),
		"set the {room} fan to {speed}", "{room} fan {speed}", "turn the fan in the {room} to {speed}", "fan speed {speed} in the {room}", "(put|make) the {room} fan {speed}"),
	F("blinds", "home", "set_blinds|blinds.position|open_blinds|window_shades",
		"Open or close window blinds to a percentage.|Set how far the blinds are open (0 closed, 100 fully open).",
		Ps(R("room", A("string", "room|window|area", "Which room.|Room with the blinds.", "room")),
			R("pos", A("integer", "position|open_percent|level", "Percent open, 0-100.|How far open (percent).", "percent"))),
		"open the {room} blinds to {pos}", "set the blinds in the {room} to {pos}", "{room} shades {pos}", "(raise|lower) the {room} blinds to {pos}"),
	F("vacuum", "home", "start_vacuum|robot_vacuum.clean|clean_room|vacuum_start",
		"Start the robot vacuum, optionally in one room.|Runs a robot vacuum cleaning cycle.",
		Ps(O("room", A("string", "room|area|zone", "Room to clean; whole home if omitted.|Area to vacuum.", "room")),
			O("mode", E("mode|power|suction", "Suction mode.|Cleaning power.", "vacuum_mode", "quiet", "standard", "turbo"))),
		"vacuum the {room}", "start the robot vacuum", "clean the {room} on {mode}", "run the vacuum in the {room}", "send the robot to clean the {room}", "{mode} clean the {room}"),
	F("announce", "home", "broadcast_announcement|announce|intercom.broadcast|home_announce",
		"Play a spoken announcement on the home speakers (not a text message).|Broadcasts a message aloud through the house speakers.",
		Ps(R("msg", A("string", "message|text|announcement", "What to announce.|Words to broadcast.", "message")),
			O("room", A("string", "room|speaker|zone", "Only this room's speaker.|Room to announce in.", "room"))),
		"announce {msg}", "broadcast {msg} to the {room}", "tell everyone in the house {msg}", "intercom {msg}", "say {msg} on the speakers in the {room}", "announce in the {room} that {msg}"),
	F("breathe", "health", "start_breathing|breathing_exercise|mindfulness.start|relax_session",
		"Start a guided breathing or mindfulness session.|Guided breathing exercise for a number of minutes.",
		Ps(O("dur", A("integer", "minutes|duration|length_minutes", "Session length in minutes.|How long, in minutes.", "minutes"))),
		"start a breathing exercise", "breathe with me for {dur}", "(help me|let me) relax for {dur}", "mindfulness session {dur}", "I need to calm down, {dur} of breathing", "guided breathing for {dur}"),
	F("meal", "health", "log_meal|food_log|track_calories|nutrition.log",
		"Log a meal in the food diary.|Record what was eaten and optionally its calories.",
		Ps(R("food", A("string", "food|meal|item", "What was eaten.|Meal description.", "recipe")),
			O("cal", A("integer", "calories|kcal", "Calories, if known.|Energy in kcal.", "calories"))),
		"log {food}", "I ate {food}", "I had {food}, about {cal}", "track {food} {cal}", "add {food} to my food diary", "note that I just ate {food}"),
	F("medication", "health", "log_medication|record_dose|meds.taken|track_medicine",
		"Record that a dose of medication was taken.|Logs a medicine dose (does not set a reminder).",
		Ps(R("med", A("string", "medication|name|drug", "Medication name.|Which medicine.", "med_name")),
			O("mg", A("integer", "dose_mg|milligrams|dose", "Dose in milligrams.|Amount, mg.", "dose_mg"))),
		"I took my {med}", "log {mg} of {med}", "record a dose of {med}", "just had {mg} {med}", "mark {med} as taken", "took {med} {mg}"),
	F("air_quality", "phone", "air_quality|get_aqi|pollution_index|aqi.lookup",
		"Get the air quality index (pollution) for a city.|Returns AQI and pollutant levels; not the weather forecast.",
		Ps(R("loc", A("string", "city|location|place", "City.|Where to check air quality.", "city"))),
		"what's the air quality in {loc}", "aqi (in|for) {loc}", "is the air ok in {loc}", "pollution level in {loc}", "how smoggy is {loc} today", "air quality {loc}"),
	F("sun_times", "phone", "sunrise_sunset|sun_times|get_sunset|daylight.query",
		"Get sunrise and sunset times for a place and day.|Returns when the sun rises and sets.",
		Ps(R("loc", A("string", "city|location", "City.|Place.", "city")),
			O("day", A("string", "date|day", "Day, as said.|Which day.", "date"))),
		"when is sunset in {loc}", "sunrise in {loc} {day}", "what time does the sun (set|rise) in {loc} {day}", "daylight hours in {loc}", "golden hour in {loc} {day}", "sunset {loc}"),
	F("request_money", "money", "request_money|ask_for_payment|payment_request|payments.request",
		"Ask a contact to pay you an amount (you receive the money).|Sends a payment request; does not send money.",
		Ps(R("from", A("string", "from|payer|contact", "Who should pay you.|Person asked to pay.", "person")),
			R("amount", A("number", "amount|sum", "Amount in dollars.|How much to request.", "money")),
			O("note", A("string", "note|memo|reason", "What it is for.|Memo.", "subject"))),
		"request {amount} from {from}", "ask {from} for {amount}", "(charge|bill) {from} {amount} for {note}", "{from} owes me {amount}", "get {from} to pay me {amount}", "send a payment request to {from} for {amount}"),
	F("split_bill", "money", "split_bill|bill.split|calculate_split|share_cost",
		"Split a bill evenly between a number of people.|Computes each person's share of a total.",
		Ps(R("amount", A("number", "total|amount|bill_total", "Total bill in dollars.|Bill amount.", "money")),
			R("people", A("integer", "people|ways|num_people", "Number of people sharing.|How many ways.", "party"))),
		"split {amount} {people} ways", "divide {amount} between {people} people", "how much each if {amount} is split {people} ways", "we're {people}, the bill is {amount}, split it", "split the bill of {amount} for {people}"),
	F("coffee", "food", "order_coffee|coffee.order|cafe_order|buy_drink",
		"Order a coffee or drink for pickup.|Places a cafe order.",
		Ps(R("drink", A("string", "drink|beverage|item", "Drink to order.|What to drink.", "drink")),
			O("size", E("size|cup_size", "Cup size.|Size.", "cup_size", "small", "medium", "large"))),
		"order a {drink}", "get me a {size} {drink}", "I want a {drink} for pickup", "(grab|buy) me a {drink}", "{size} {drink} please"),
	F("food_order", "food", "order_food|food_delivery|delivery.order|order_takeout",
		"Order food for delivery.|Places a takeout or delivery order.",
		Ps(R("dish", A("string", "dish|food|item", "What to order.|Dish name.", "recipe")),
			O("qty", A("integer", "quantity|count|portions", "Number of portions.|How many.", "quantity")),
			O("from", A("string", "restaurant|from|store", "Restaurant to order from.|Where from.", "restaurant_name"))),
		"order {dish} for delivery", "get me {qty} {dish} delivered", "order {dish} from {from}", "I want {dish} delivered from {from}", "takeout: {qty} {dish} from {from}", "deliver {qty} {dish}"),
	F("unit_convert", "glasses", "convert_units|unit_convert|measure.convert|units.convert",
		"Convert a measurement between units (length, weight, temperature, volume).|Unit conversion.",
		Ps(R("value", A("number", "value|amount|quantity", "Number to convert.|The measured value.", "measure")),
			R("from", E("from_unit|from|unit", "Unit of the value.|Source unit.", "unit_from", unitNames()...)),
			R("to", E("to_unit|to|target_unit", "Unit to convert into.|Target unit.", "unit_to", unitNames()...))),
		"convert {value} {from} to {to}", "how many {to} is {value} {from}", "{value} {from} in {to}", "what's {value} {from} in {to}", "change {value} {from} into {to}"),
	F("video", "glasses", "record_video|start_recording|capture_video|video.record",
		"Record a video clip with the camera.|Starts video recording, optionally for a fixed number of seconds.",
		Ps(O("secs", A("integer", "duration_seconds|seconds|length", "Clip length in seconds.|How long to record (s).", "seconds"))),
		"record a video", "record {secs} of video", "start recording for {secs}", "film this for {secs}", "capture a {secs} clip", "take a {secs} video"),
	F("contact_info", "phone", "get_contact|lookup_contact|contacts.find|contact_info",
		"Look up a contact's phone number, email and address.|Finds a person in the address book.",
		Ps(R("who", A("string", "name|contact|query", "Name to look up.|Contact name.", "person"))),
		"what's {who}'s number", "look up {who} in my contacts", "find {who}'s contact (info|details)", "show me {who}'s address", "pull up {who} in contacts", "get {who}'s email"),
	F("brightness", "glasses", "set_brightness|display_brightness|screen.brightness|set_display_level",
		"Set the display brightness (screen, not lights or volume).|Changes screen brightness in percent.",
		Ps(R("level", A("integer", "level|brightness|percent", "Brightness 0-100.|Screen brightness percent.", "percent"))),
		"set the screen brightness to {level}", "brightness {level}", "dim the display to {level}", "make the screen {level} bright", "display at {level}", "screen brightness {level}"),
	F("calendar_query", "productivity", "get_events|list_events|calendar.agenda|whats_on",
		"List the calendar events on a day (read only).|Reads the agenda; does not create events.",
		Ps(O("date", A("string", "date|day", "Which day, as said.|Day to list.", "date"))),
		"what's on my calendar {date}", "do I have anything {date}", "show my agenda for {date}", "what meetings do I have {date}", "am I free {date}", "read my schedule {date}"),
}

// near lists, for a family, the families whose tools are easy to confuse with it: they are
// offered as distractors more often than chance, and no-call rows ask for a family while
// offering only its near misses.
var near = map[string][]string{
	"timer": {"alarm", "stopwatch", "sleep_timer", "reminder"}, "alarm": {"timer", "cancel_alarm", "reminder"},
	"cancel_alarm": {"alarm", "timer"}, "stopwatch": {"timer", "workout"}, "sleep_timer": {"timer", "volume", "media_control"},
	"reminder": {"calendar", "alarm", "note", "medication"}, "calendar": {"calendar_query", "reminder"}, "calendar_query": {"calendar", "reminder"},
	"message": {"email", "voice_note", "call", "announce", "share_eta", "read_messages"}, "email": {"message", "voice_note"},
	"call": {"message", "voice_note", "contact_info", "sos"}, "voice_note": {"message", "call"}, "read_messages": {"message", "email"},
	"contact_info": {"call", "message"}, "navigate": {"ride", "transit", "find_nearby", "share_eta"}, "ride": {"navigate", "transit"},
	"transit": {"navigate", "ride"}, "find_nearby": {"navigate", "restaurant"}, "share_eta": {"message", "navigate"},
	"weather": {"air_quality", "sun_times"}, "air_quality": {"weather", "sun_times"}, "sun_times": {"weather", "air_quality"},
	"lights": {"thermostat", "fan", "blinds", "brightness"}, "thermostat": {"fan", "car_climate", "lights"}, "fan": {"thermostat", "lights"},
	"blinds": {"lights", "fan"}, "vacuum": {"lights", "fan"}, "announce": {"message", "music"},
	"music": {"media_control", "volume", "sleep_timer"}, "podcast": {"media_control", "sleep_timer"},
	"radio": {"media_control", "volume"}, "audiobook": {"sleep_timer", "media_control"}, "media_control": {"music", "volume", "sleep_timer"},
	"volume": {"brightness", "media_control"}, "brightness": {"volume", "lights"}, "camera": {"video"}, "video": {"camera"},
	"workout": {"stopwatch", "breathe", "health"}, "breathe": {"workout", "timer"}, "health": {"workout", "water"},
	"water": {"meal", "health"}, "meal": {"water", "recipe", "food_order"}, "medication": {"reminder", "health"},
	"payment": {"request_money", "split_bill", "currency"}, "request_money": {"payment", "split_bill"}, "split_bill": {"payment", "request_money"},
	"shopping": {"food_order", "list"}, "food_order": {"shopping", "restaurant", "coffee"}, "coffee": {"food_order", "shopping"},
	"restaurant": {"food_order", "find_nearby", "hotel"}, "hotel": {"restaurant", "ride"}, "flight": {"parcel"}, "parcel": {"flight", "shopping"},
	"unit_convert": {"currency"}, "currency": {"unit_convert"}, "note": {"reminder", "list"}, "list": {"note", "shopping"},
	"parking": {"navigate", "payment"}, "settings": {"a11y", "brightness"}, "a11y": {"settings", "brightness"},
	"recipe": {"food_order", "meal"}, "lock": {"lights"}, "news": {"podcast"}, "stocks": {"currency"}, "translate": {"unit_convert"},
	"sos": {"call"}, "find_device": {"call"}, "car_climate": {"thermostat"},
}

type unit struct{ name, dim string }

var units = []unit{{"kilometers", "len"}, {"miles", "len"}, {"meters", "len"}, {"feet", "len"}, {"inches", "len"}, {"centimeters", "len"},
	{"kilograms", "mass"}, {"pounds", "mass"}, {"grams", "mass"}, {"ounces", "mass"},
	{"liters", "vol"}, {"cups", "vol"}, {"gallons", "vol"}, {"milliliters", "vol"},
	{"celsius", "temp"}, {"fahrenheit", "temp"}}

func unitNames() []string {
	s := make([]string, len(units))
	for i, u := range units {
		s[i] = u.name
	}
	return s
}

// moreTemplates adds casual and spoken phrasings to the first catalogue. They go before each
// family's last template, which stays the held-out one.
var moreTemplates = map[string][]string{
	"timer":       {"{dur} timer please", "can you start a countdown of {dur}", "I need a timer, {dur}", "put {dur} on the clock", "timer for the {label}, {dur}"},
	"alarm":       {"I have to be up by {time}", "get me up at {time} {repeat}", "set my alarm to {time}", "alarm for {time} tomorrow"},
	"reminder":    {"ping me {date} about {text}", "make sure I {text} {date}", "remind me at {time} to {text}"},
	"calendar":    {"put {title} in my calendar for {date} at {time}", "I've got {title} on {date}"},
	"message":     {"shoot {to} a text saying {body}", "text {to} and say {body}", "quick message to {to}, {body}", "reply to {to} {body}"},
	"call":        {"give {who} a call", "can you get {who} on the line", "I want to talk to {who}"},
	"email":       {"shoot an email to {to} about {subject}", "mail {to}, subject {subject}"},
	"navigate":    {"head to {dest}", "let's go to {dest} {mode}", "show me the way to {dest}"},
	"ride":        {"I need a ride to {dest}", "can I get a {kind} to {dest}"},
	"weather":     {"do I need an umbrella in {loc} {day}", "what's it like outside in {loc}", "temperature in {loc} {unit}"},
	"lights":      {"lights {on} in the {room}", "{room} lamp {on}"},
	"thermostat":  {"bump the heat to {temp}", "change the temperature to {temp} in the {room}", "it's cold, set it to {temp}"},
	"music":       {"put on {song} by {artist}", "I wanna hear some {genre}", "play me something by {artist}"},
	"volume":      {"turn it up to {level}", "volume to {level} please", "make it louder, {level}"},
	"workout":     {"I'm starting a {type} workout", "track a {type} session of {goal}"},
	"health":      {"how's my {metric} looking {period}", "tell me my {metric}"},
	"note":        {"make a note, {text}", "write this down: {text}"},
	"list":        {"stick {items} on my {list} list", "add {items} to the list please"},
	"payment":     {"give {to} {amount}", "send {amount} over to {to}"},
	"translate":   {"how would I say {text} in {lang}", "{text} in {lang} please"},
	"settings":    {"could you {on} {setting}", "{setting} {on} please"},
	"lock":        {"{locked} the {door} door please"},
	"camera":      {"snap a {mode}", "quick {mode} please"},
	"shopping":    {"I want to buy {qty} {item}", "get {item} delivered"},
	"sos":         {"help, I need {kind}"},
	"find_device": {"can't find my {device}", "help me find my {device}"},
}

func init() {
	for i := range families {
		f := &families[i]
		if more := moreTemplates[f.key]; len(more) > 0 {
			last := f.tpls[len(f.tpls)-1]
			f.tpls = append(append(f.tpls[:len(f.tpls)-1:len(f.tpls)-1], more...), last)
		}
	}
	families = append(families, families2...)
	for _, k := range []string{"audiobook", "hotel", "blinds", "coffee", "air_quality"} {
		heldOutFamilies[k] = true
	}
	chatter = append(chatter, "what's the square root of two", "how far away is the moon", "do you dream", "tell me a fun fact",
		"what does serendipity mean", "who painted the mona lisa", "I love this song", "that was a great movie", "um never mind",
		"how old is the universe", "what's a good name for a dog", "can penguins fly", "okay cool", "why is the sky blue",
		"how many ounces in a pound", "write me a poem about rain", "what rhymes with orange", "I'm tired", "hmm let me think")
	slots["media_action"] = func(g *gen) val {
		x := [][2]string{{"skip", "next"}, {"next song", "next"}, {"skip this one", "next"}, {"go back a song", "previous"}, {"previous track", "previous"},
			{"play the last song again", "previous"}, {"pause", "pause"}, {"pause the music", "pause"}, {"hold the music", "pause"},
			{"resume", "resume"}, {"keep playing", "resume"}, {"unpause", "resume"}}
		v := x[g.r.IntN(len(x))]
		return val{surf: v[0], v: v[1]}
	}
	slots["radio_station"] = func(g *gen) val {
		s := pick(g, "KEXP", "BBC Radio "+strconv.Itoa(g.intIn(1, 6)), "Jazz FM", "Classic Rock "+strconv.Itoa(g.intIn(88, 107)),
			g.coined()+" FM", g.f.City()+" Public Radio", "Radio "+g.coined(), g.coined()+" Hits")
		return val{surf: s, v: s, verbatim: true}
	}
	slots["fm_freq"] = func(g *gen) val {
		whole, dec := g.intIn(88, 107), g.r.IntN(10)
		v := float64(whole) + float64(dec)/10
		surf := fmt.Sprintf("%d.%d", whole, dec)
		if g.spoken || g.r.IntN(3) == 0 {
			surf = numWords(whole) + " point " + ones[dec]
		}
		return val{surf: surf + pick(g, "", " fm"), v: v}
	}
	slots["book_title"] = func(g *gen) val { s := g.title(); return val{surf: s, v: s, verbatim: true} }
	slots["play_speed"] = func(g *gen) val {
		x := []struct {
			s string
			v float64
		}{{"1.5x", 1.5}, {"one and a half speed", 1.5}, {"double speed", 2}, {"2x", 2}, {"half speed", 0.5}, {"one point two five speed", 1.25}, {"1.25x speed", 1.25}, {"normal speed", 1}}
		v := x[g.r.IntN(len(x))]
		for g.spoken && strings.ContainsAny(v.s, "0123456789") {
			v = x[g.r.IntN(len(x))]
		}
		return val{surf: v.s, v: v.v}
	}
	slots["nearby_cat"] = func(g *gen) val {
		s := pick(g, "coffee shop", "gas station", "pharmacy", "ev charger", "atm", "parking garage", "sushi restaurant", "grocery store",
			"bakery", "hardware store", "vet", "laundromat", "bike shop", "urgent care", "post office", "bookstore", "taco place", "car wash")
		return val{surf: s, v: s, verbatim: true}
	}
	slots["zone_code"] = func(g *gen) val {
		n := g.intIn(100, 9999)
		s := strconv.Itoa(n)
		surf := s
		if g.spoken && g.r.IntN(2) == 0 {
			surf = digitWords(s) // "four oh two one" -> "4021": a value that needs rewriting
		}
		return val{surf: surf, v: s}
	}
	slots["fan_speed"] = func(g *gen) val {
		n := g.intIn(0, 5)
		switch {
		case n == 5 && g.r.IntN(2) == 0:
			return val{surf: pick(g, "max", "full blast", "the highest setting"), v: 5}
		case n == 0 && g.r.IntN(2) == 0:
			return val{surf: "off", v: 0}
		}
		return val{surf: pick(g, "", "speed ", "level ") + g.num(n), v: n}
	}
	slots["vacuum_mode"] = func(g *gen) val {
		x := [][2]string{{"quiet mode", "quiet"}, {"quiet", "quiet"}, {"standard", "standard"}, {"normal power", "standard"}, {"turbo", "turbo"}, {"max power", "turbo"}}
		v := x[g.r.IntN(len(x))]
		return val{surf: v[0], v: v[1]}
	}
	slots["calories"] = func(g *gen) val {
		n := g.intIn(2, 16) * 50
		return val{surf: g.numSay(n) + pick(g, " calories", " kcal", " cals"), v: n}
	}
	slots["med_name"] = func(g *gen) val {
		s := pick(g, "ibuprofen", "vitamin d", "metformin", "insulin", "allergy pills", "blood pressure pill", "iron supplement",
			"aspirin", "paracetamol", "antibiotics", "melatonin", "omega three", g.coined()+"ex", g.coined()+"ol")
		return val{surf: s, v: s, verbatim: true}
	}
	slots["dose_mg"] = func(g *gen) val {
		n := []int{5, 10, 20, 25, 50, 81, 100, 200, 250, 400, 500, 1000}[g.r.IntN(12)]
		return val{surf: g.numSay(n) + pick(g, " mg", " milligrams", " milligram"), v: n}
	}
	slots["drink"] = func(g *gen) val {
		s := pick(g, "latte", "flat white", "oat milk cappuccino", "iced americano", "chai latte", "espresso", "mocha", "cold brew",
			"green tea", "hot chocolate", strings.ToLower(g.f.Fruit())+" smoothie", "caramel macchiato")
		return val{surf: s, v: s, verbatim: true}
	}
	slots["cup_size"] = func(g *gen) val {
		x := [][2]string{{"small", "small"}, {"tall", "small"}, {"medium", "medium"}, {"regular", "medium"}, {"large", "large"}, {"big", "large"}}
		v := x[g.r.IntN(len(x))]
		return val{surf: v[0], v: v[1]}
	}
	slots["restaurant_name"] = func(g *gen) val {
		s := pick(g, g.f.LastName()+"'s", "the "+g.coined()+" Kitchen", g.coined()+" Noodle Bar", g.f.Company(), "Golden "+g.f.Animal(), g.f.FirstName()+"'s Diner")
		return val{surf: s, v: s, verbatim: true}
	}
	slots["measure"] = func(g *gen) val {
		s, v := g.spokenNumber()
		return val{surf: s, v: v}
	}
	slots["unit_from"] = func(g *gen) val {
		u := units[g.r.IntN(len(units))]
		g.unitDim = u.dim
		return val{surf: u.name, v: u.name}
	}
	slots["unit_to"] = func(g *gen) val {
		var cands []string
		for _, u := range units {
			if u.dim == g.unitDim || g.unitDim == "" {
				cands = append(cands, u.name)
			}
		}
		s := cands[g.r.IntN(len(cands))]
		return val{surf: s, v: s}
	}
}

// digitWords reads a digit string the way people say codes: "4021" -> "four oh two one".
func digitWords(s string) string {
	var w []string
	for _, r := range s {
		if r == '0' {
			w = append(w, "oh")
			continue
		}
		w = append(w, ones[r-'0'])
	}
	return strings.Join(w, " ")
}

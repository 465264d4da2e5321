package synth

import "strings"

// A family is one kind of tool (a timer, a message sender...) with several ways to name and
// describe it and its parameters, and query templates that fill its slots.
type family struct {
	key, domain string
	names       []string
	descs       []string
	params      []param
	tpls        []string // "(a|b)" picks one; "{key}" is a parameter's slot
}

type param struct {
	key  string
	req  bool
	alts []alt // alternative schemas for the same concept; one is chosen per tool instance
}

type alt struct {
	typ   string // string, integer, number, boolean, array
	names []string
	descs []string
	slot  string
	enum  []any
	items string
}

func split(s string) []string { return strings.Split(s, "|") }

func F(key, domain, names, descs string, params []param, tpls ...string) family {
	return family{key: key, domain: domain, names: split(names), descs: split(descs), params: params, tpls: tpls}
}
func Ps(p ...param) []param           { return p }
func R(key string, alts ...alt) param { return param{key: key, req: true, alts: alts} }
func O(key string, alts ...alt) param { return param{key: key, alts: alts} }
func A(typ, names, descs, slot string) alt {
	return alt{typ: typ, names: split(names), descs: split(descs), slot: slot}
}
func E(names, descs, slot string, enum ...string) alt {
	vals := make([]any, len(enum))
	for i, e := range enum {
		vals[i] = e
	}
	return alt{typ: "string", names: split(names), descs: split(descs), slot: slot, enum: vals}
}
func L(names, descs, slot string) alt {
	return alt{typ: "array", items: "string", names: split(names), descs: split(descs), slot: slot}
}

// families: the hand-built catalogue (watch, glasses, phone, home, car, health, travel, money,
// productivity). Names here are our own; none is taken from the evaluation benchmark.
var families = []family{
	F("timer", "watch", "set_timer|start_timer|create_timer|timer_start|start_countdown",
		"Start a countdown timer.|Set a timer that alerts when the duration has passed.|Creates a new timer on the watch.",
		Ps(R("dur", A("integer", "duration_minutes|minutes|length_minutes", "Timer length in minutes.|How many minutes the timer runs.", "minutes"),
			A("integer", "duration_seconds|seconds|total_seconds", "Timer length in seconds.|Duration of the countdown, in seconds.", "minutes_as_seconds")),
			O("label", A("string", "label|name|title", "Optional label shown when the timer rings.|A name for the timer.", "timer_label"))),
		"(set|start|make) a timer for {dur}", "(set|start) a {dur} timer", "timer {dur}", "(set|start) a timer for {dur} (called|named|labeled) {label}",
		"{label} timer for {dur}", "count down {dur}", "(can you|could you|please) time {dur} for the {label}", "remind me in {dur} with a timer"),
	F("alarm", "watch", "set_alarm|create_alarm|alarm_set|add_alarm|schedule_wake_up",
		"Set an alarm for a time of day.|Create a new alarm.|Schedules an alarm that rings at the given time.",
		Ps(R("time", A("string", "time|alarm_time|at", "Time in 24-hour HH:MM format.|Alarm time as HH:MM, 24-hour clock.", "time24")),
			O("label", A("string", "label|note|name", "Label for the alarm.|Text shown with the alarm.", "timer_label")),
			O("repeat", A("boolean", "repeat|recurring|daily", "Whether the alarm repeats every day.|Repeat daily if true.", "bool_repeat"))),
		"(set|create) an alarm for {time}", "wake me up at {time}", "alarm at {time} {repeat}", "(set|put) an alarm (at|for) {time} (called|labeled) {label}",
		"I need to get up at {time}", "{repeat} alarm at {time}", "alarm {time}"),
	F("reminder", "productivity", "create_reminder|add_reminder|remind_me|set_reminder|reminders.add",
		"Create a reminder.|Add a reminder that notifies the user at a given time.|Schedule a reminder with a message.",
		Ps(R("text", A("string", "text|message|title|what", "What to be reminded about.|The reminder text.", "reminder_text")),
			O("time", A("string", "time|at|remind_time", "Time of day in HH:MM (24-hour).|When to remind, HH:MM.", "time24")),
			O("date", A("string", "date|day|on", "Day of the reminder, as said (e.g. tomorrow).|The date for the reminder.", "date"))),
		"remind me to {text}", "remind me to {text} at {time}", "(set|create|add) a reminder to {text} {date}", "{date} at {time} remind me to {text}",
		"don't let me forget to {text}", "reminder: {text}", "remind me {date} to {text}", "I need a reminder to {text} at {time} {date}"),
	F("calendar", "productivity", "create_event|add_calendar_event|schedule_event|calendar_add|new_meeting",
		"Add an event to the calendar.|Create a calendar event at a date and time.|Schedules a meeting or appointment.",
		Ps(R("title", A("string", "title|event_title|name|summary", "Event title.|Short name of the event.", "event_title")),
			R("date", A("string", "date|day", "Date of the event as the user said it.|Day of the event.", "date"), A("string", "date|start_date", "Date in YYYY-MM-DD format.|ISO date of the event (YYYY-MM-DD).", "date_iso")),
			O("time", A("string", "start_time|time|at", "Start time, HH:MM 24-hour.|When it starts (HH:MM).", "time24")),
			O("place", A("string", "location|place|where", "Where the event takes place.|Event location.", "place"))),
		"(add|put) {title} on my calendar {date}", "schedule {title} on {date} at {time}", "(create|add) an event {title} {date} at {time} at {place}",
		"I have {title} {date}", "book {title} for {date} at {time}", "calendar: {title} {date} {time}", "new event {title} on {date} at {place}"),
	F("message", "phone", "send_message|send_text|message_send|text_contact|sms_send",
		"Send a text message to a contact.|Sends an SMS to someone.|Send a chat message.",
		Ps(R("to", A("string", "recipient|to|contact|contact_name", "Name of the person to message.|Who receives the message.", "person")),
			R("body", A("string", "message|text|body|content", "The message text.|What to say.", "message"))),
		"(text|message) {to} {body}", "send {to} a (message|text) saying {body}", "tell {to} {body}", "(send|write) a message to {to}: {body}",
		"(can you|please) text {to} that {body}", "let {to} know {body}", "message for {to}: {body}"),
	F("call", "phone", "make_call|call_contact|phone_call|dial|start_call",
		"Call a contact.|Start a phone call.|Place a voice or video call to someone.",
		Ps(R("who", A("string", "contact|name|callee|contact_name", "Who to call.|Name of the contact to call.", "person"), A("string", "phone_number|number", "Phone number to dial.|The number to call, digits.", "phone")),
			O("video", A("boolean", "video|is_video|video_call", "True for a video call.|Make it a video call.", "bool_video"))),
		"call {who}", "(ring|phone|dial) {who}", "(start|make) a {video} call (to|with) {who}", "{video} call {who}", "(can you|please) call {who}", "get {who} on the phone"),
	F("email", "productivity", "send_email|email_send|compose_email|mail.send|write_email",
		"Send an email.|Compose and send an email message.|Sends an email to one or more recipients.",
		Ps(R("to", A("string", "to|recipient|email|address", "Recipient email address.|Email address to send to.", "email")),
			R("subject", A("string", "subject|title", "Email subject line.|Subject of the email.", "subject")),
			O("body", A("string", "body|message|text|content", "Email body.|The body text.", "message"))),
		"(send|write) an email to {to} about {subject}", "email {to} with subject {subject} saying {body}", "(compose|draft) a mail to {to} subject {subject}",
		"send {to} an email titled {subject}: {body}", "email {to} re {subject}"),
	F("navigate", "car", "navigate_to|start_navigation|get_directions|directions|route_to",
		"Start turn-by-turn navigation to a destination.|Get directions to a place.|Navigate somewhere.",
		Ps(R("dest", A("string", "destination|to|place|address", "Where to go.|Destination name or address.", "place"), A("string", "address|destination_address", "Street address to navigate to.|Destination street address.", "address")),
			O("mode", E("mode|travel_mode|transport", "How to travel.|Travel mode.", "travel_mode", "driving", "walking", "cycling", "transit"))),
		"(navigate|take me|get me) to {dest}", "directions to {dest} {mode}", "how do I get to {dest} {mode}", "(start|begin) navigation to {dest}",
		"route to {dest}", "take me to {dest} {mode}", "I want to go to {dest}"),
	F("ride", "travel", "book_ride|request_ride|order_taxi|call_cab|ride_request",
		"Book a ride.|Request a taxi or ride-share car.|Orders a car to a destination.",
		Ps(R("dest", A("string", "destination|dropoff|to", "Drop-off location.|Where the ride goes.", "place")),
			O("kind", E("ride_type|type|class", "Type of car.|Ride class.", "ride_type", "standard", "xl", "premium", "shared")),
			O("seats", A("integer", "seats|passengers|party_size", "Number of passengers.|How many people ride.", "seats"))),
		"(book|get|order) me a (ride|cab|taxi) to {dest}", "{kind} ride to {dest}", "I need a (car|taxi) to {dest} for {seats}", "(book|order) a {kind} (car|ride) to {dest} for {seats} people",
		"get a cab to {dest}"),
	F("weather", "phone", "get_weather|weather_forecast|current_weather|weather.lookup|check_weather",
		"Get the weather for a location.|Returns the weather forecast.|Look up current conditions and forecast.",
		Ps(R("loc", A("string", "location|city|place", "City name.|The city to get weather for.", "city")),
			O("unit", E("unit|units|temperature_unit", "Temperature unit.|Units for the temperature.", "temp_unit", "celsius", "fahrenheit")),
			O("day", A("string", "date|day|when", "Day of the forecast as said.|Which day.", "date"))),
		"what's the weather (in|like in) {loc}", "weather in {loc} {day}", "is it going to rain in {loc} {day}", "(how hot|how cold) is it in {loc} {unit}",
		"forecast for {loc} {unit}", "(tell me|give me) the weather for {loc} {day} {unit}", "{loc} weather"),
	F("lights", "home", "set_lights|control_lights|light_switch|lights.set|toggle_lights",
		"Turn lights on or off in a room.|Control smart lights.|Switch lights and set brightness.",
		Ps(R("room", A("string", "room|area|location", "Which room.|Room name.", "room")),
			R("on", A("boolean", "on|power|state|turn_on", "True to switch on, false to switch off.|Whether the lights should be on.", "on_off")),
			O("bright", A("integer", "brightness|level|dim_level", "Brightness 0-100.|Brightness percent.", "percent")),
			O("color", A("string", "color|colour", "Light color.|Color name.", "color"))),
		"{on} the (lights|lamps) in the {room}", "{room} lights {on}", "{on} the {room} lights and set them to {bright}", "{on} the {room} lights and make them {color}",
		"(can you|please) {on} the {room} light", "{room} lights {on} at {bright}"),
	F("thermostat", "home", "set_thermostat|set_temperature|thermostat.set|climate_set|adjust_heating",
		"Set the thermostat temperature.|Change the home temperature.|Sets the target temperature of the heating or cooling.",
		Ps(R("temp", A("integer", "temperature|target|degrees|target_temperature", "Target temperature in degrees.|Temperature to set.", "temperature")),
			O("room", A("string", "room|zone", "Room or zone.|Which room.", "room"))),
		"set the (thermostat|heating|temperature) to {temp}", "make it {temp} in the {room}", "(turn|put) the heat (to|up to) {temp}", "{room} to {temp}", "I want it {temp}"),
	F("lock", "home", "lock_door|set_lock|door_lock|smart_lock",
		"Lock or unlock a door.|Control a smart lock.",
		Ps(R("door", A("string", "door|which|lock_name", "Which door.|Door name.", "door")),
			R("locked", A("boolean", "locked|lock|state", "True to lock, false to unlock.|Lock state.", "lock_state"))),
		"{locked} the {door} (door|)", "(is the|make sure the) {door} door is {locked}", "{locked} {door}"),
	F("music", "glasses", "play_music|music.play|play_song|start_music|play_track",
		"Play music.|Play a song, artist or genre.|Start playback of music.",
		Ps(O("song", A("string", "song|track|title|query", "Song title.|What to play.", "song")),
			O("artist", A("string", "artist|by|performer", "Artist name.|The artist.", "artist")),
			O("genre", A("string", "genre|style", "Music genre.|Genre to play.", "genre"))),
		"play {song}", "play {song} by {artist}", "put on some {genre}", "play (something|music) by {artist}", "I want to hear {song}", "(start|queue) {genre} music", "play songs by {artist}"),
	F("volume", "glasses", "set_volume|volume_set|change_volume|audio.volume",
		"Set the playback volume.|Change the volume level.",
		Ps(R("level", A("integer", "level|volume|percent", "Volume 0-100.|Volume percentage.", "volume"))),
		"(set|turn) the volume to {level}", "volume {level}", "make it {level} volume", "change volume to {level}"),
	F("podcast", "glasses", "play_podcast|podcast.play|resume_podcast|listen_podcast",
		"Play a podcast.|Play the latest episode of a podcast.",
		Ps(R("show", A("string", "podcast|show|name|title", "Podcast name.|Show to play.", "podcast")),
			O("ep", A("integer", "episode|episode_number", "Episode number, latest if omitted.|Which episode.", "quantity"))),
		"play {show}", "play the latest {show}", "put on episode {ep} of {show}", "(resume|continue) {show}", "I want to listen to {show}"),
	F("workout", "health", "start_workout|workout.start|begin_exercise|track_workout|log_activity",
		"Start tracking a workout.|Begin an exercise session.|Start a workout of a given type.",
		Ps(R("type", E("activity|type|workout_type|sport", "Kind of workout.|Activity type.", "workout", "running", "cycling", "swimming", "yoga", "strength", "walking", "hiking", "rowing", "hiit")),
			O("goal", A("number", "distance_km|goal_km|target_distance", "Distance goal in kilometers.|Target distance (km).", "distance"))),
		"start a {type} workout", "(track|log) my {type}", "I'm going {type} for {goal}", "begin {type} with a goal of {goal}", "{type} workout"),
	F("health", "health", "get_health_metric|read_health|health.query|check_vitals|health_summary",
		"Read a health measurement.|Get a health metric for a period.|Query the wearable's health data.",
		Ps(R("metric", E("metric|measure|type", "Which measurement.|Metric name.", "metric", "heart_rate", "spo2", "steps", "sleep", "blood_pressure", "stress")),
			O("period", E("period|range|window", "Time range.|Period to summarise.", "period", "day", "week", "month"))),
		"what's my {metric}", "show my {metric} {period}", "how is my {metric} {period}", "check my {metric}", "(read|measure) my {metric}"),
	F("water", "health", "log_water|track_water|water_intake|hydration_log",
		"Log water intake.|Record how much water was drunk.",
		Ps(R("ml", A("integer", "amount_ml|milliliters|volume_ml", "Amount in milliliters.|Water amount, ml.", "glasses_ml"))),
		"I drank {ml}", "log {ml}", "(add|record) {ml}", "track {ml} for me"),
	F("camera", "glasses", "take_photo|capture_photo|camera.capture|snap_photo|take_picture",
		"Take a photo or video with the camera.|Capture an image.",
		Ps(O("mode", E("mode|camera_mode|type", "Capture mode.|Camera mode.", "camera_mode", "photo", "video", "portrait", "panorama", "night")),
			O("timer", A("integer", "timer_seconds|delay|countdown", "Self-timer delay in seconds.|Seconds before capture.", "seconds"))),
		"take a {mode}", "(snap|grab) a {mode}", "take a {mode} in {timer}", "start a {mode} with a {timer} delay", "take a picture"),
	F("note", "productivity", "create_note|add_note|note.create|save_note|jot_down",
		"Create a note.|Save a text note.",
		Ps(R("text", A("string", "text|content|body|note", "The note text.|What to write down.", "note_text")),
			O("title", A("string", "title|name", "Note title.|Optional title.", "subject"))),
		"(note|write down|jot down) {text}", "take a note: {text}", "(save|create) a note titled {title} saying {text}", "note that {text}", "remember {text}"),
	F("list", "productivity", "add_to_list|list_add|add_items|shopping_list_add|add_list_items",
		"Add items to a list.|Add one or more items to a named list.",
		Ps(R("items", L("items|entries|things", "Items to add.|List of items.", "items")),
			O("list", A("string", "list|list_name|name", "Which list.|Name of the list.", "list_name"))),
		"add {items} to my {list} list", "put {items} on the {list} list", "(add|put) {items} (to|on) the list", "{list} list: {items}", "I need {items}"),
	F("shopping", "money", "order_product|buy_item|shop.order|purchase|place_order",
		"Order a product.|Buy an item from the store.",
		Ps(R("item", A("string", "item|product|query|name", "What to buy.|Product name.", "item")),
			O("qty", A("integer", "quantity|count|amount", "How many.|Number of units.", "quantity"))),
		"(order|buy) {item}", "order {qty} {item}", "buy {qty} of {item}", "(I need|get me) {qty} {item}", "(reorder|purchase) {item}"),
	F("payment", "money", "send_money|pay|transfer_money|payments.send|send_payment",
		"Send money to a contact.|Pay someone.|Transfer money to a person.",
		Ps(R("to", A("string", "recipient|to|payee", "Who receives the money.|Payee name.", "person")),
			R("amount", A("number", "amount|sum|value", "Amount in dollars.|How much to send.", "money")),
			O("note", A("string", "note|memo|message", "Payment note.|Memo.", "subject"))),
		"(send|pay) {to} {amount}", "send {amount} to {to}", "transfer {amount} to {to} for {note}", "pay {to} {amount} for {note}", "(can you|please) send {to} {amount}"),
	F("currency", "money", "convert_currency|currency_convert|exchange_rate|fx.convert",
		"Convert an amount between currencies.|Currency conversion.",
		Ps(R("amount", A("number", "amount|value", "Amount to convert.|How much.", "amount")),
			R("from", A("string", "from|from_currency|source", "Source currency, ISO code.|Three-letter code of the source currency.", "currency_from")),
			R("to", A("string", "to|to_currency|target", "Target currency, ISO code.|Three-letter code to convert into.", "currency_from"))),
		"convert {amount} {from} to {to}", "how much is {amount} {from} in {to}", "{amount} {from} to {to}", "what's {amount} {from} in {to}"),
	F("translate", "glasses", "translate|translate_text|translation|lang.translate",
		"Translate text into another language.|Translate a phrase.",
		Ps(R("text", A("string", "text|phrase|query", "Text to translate.|The phrase.", "phrase")),
			R("lang", A("string", "target_language|to|language", "Language to translate into.|Target language name.", "lang_name"), E("target_lang|lang|language_code", "ISO 639-1 code of the target language.|Two-letter language code.", "lang_code", "es", "fr", "de", "it", "ja", "zh", "pt", "ko", "nl", "ru", "ar", "hi", "tr", "sv", "pl", "el"))),
		"translate {text} (to|into) {lang}", "how do you say {text} in {lang}", "what's {text} in {lang}", "say {text} in {lang}", "{lang} for {text}"),
	F("flight", "travel", "flight_status|get_flight_status|track_flight|flights.status",
		"Get the status of a flight.|Check whether a flight is on time.",
		Ps(R("flight", A("string", "flight_number|flight|number", "Flight number like UA123.|The flight code.", "flight")),
			O("date", A("string", "date|day", "Date of the flight.|Day.", "date"))),
		"is {flight} on time", "status of flight {flight} {date}", "(check|track) flight {flight}", "when does {flight} land {date}"),
	F("restaurant", "travel", "book_table|reserve_restaurant|restaurant_booking|dining.reserve",
		"Reserve a table at a restaurant.|Book a restaurant table.",
		Ps(R("cuisine", A("string", "restaurant|cuisine|place", "Restaurant name or cuisine.|What kind of food or where.", "cuisine")),
			R("size", A("integer", "party_size|people|guests", "Number of people.|Table size.", "party")),
			O("time", A("string", "time|at", "Time, HH:MM 24-hour.|Reservation time.", "time24"))),
		"book a table for {size} at a {cuisine} place at {time}", "(reserve|get) a {cuisine} table for {size}", "dinner for {size} at {time}, {cuisine}", "table for {size} {cuisine} at {time}"),
	F("parcel", "money", "track_package|parcel_status|track_parcel|shipment.track",
		"Track a package.|Get a delivery status.",
		Ps(R("id", A("string", "tracking_number|tracking_id|id", "Carrier tracking number.|Tracking code.", "tracking")),
			O("carrier", E("carrier|courier", "Shipping carrier.|Courier.", "carrier", "ups", "fedex", "usps", "dhl"))),
		"where is my package {id}", "track {id}", "(track|check) my {carrier} package {id}", "status of parcel {id} with {carrier}"),
	F("settings", "phone", "toggle_setting|set_setting|device_setting|settings.toggle",
		"Turn a device setting on or off.|Toggle a system setting.",
		Ps(R("setting", E("setting|name|feature", "Which setting.|Setting name.", "setting", "wifi", "bluetooth", "airplane_mode", "do_not_disturb", "dark_mode", "battery_saver", "location")),
			R("on", A("boolean", "enabled|on|state|value", "True to enable.|Whether it is on.", "on_off"))),
		"{on} {setting}", "(turn|switch) {setting} {on}", "{setting} {on}", "(can you|please) {on} {setting}"),
	F("a11y", "phone", "set_text_size|accessibility_text|font_size|display.text_size",
		"Change the text size for readability.|Set the system font size.",
		Ps(R("size", E("size|text_size|level", "Text size.|Font size.", "text_size", "small", "medium", "large", "extra_large"))),
		"make the text {size}", "set font size to {size}", "{size} text please", "change text size to {size}"),
	F("sos", "watch", "emergency_call|call_emergency|sos|emergency.alert",
		"Call emergency services.|Send an SOS alert.",
		Ps(R("kind", E("service|type|emergency_type", "Which emergency service.|Kind of help.", "emergency_type", "medical", "police", "fire")),
			O("share", A("boolean", "share_location|send_location", "Share the current location.|Include location.", "bool_share"))),
		"call {kind}", "I need {kind}", "get {kind} now {share}", "emergency, call {kind}"),
	F("stocks", "money", "get_stock_price|stock_quote|stocks.quote|share_price",
		"Get a stock quote.|Current price of a stock.",
		Ps(R("sym", A("string", "symbol|ticker|stock", "Ticker symbol.|Stock ticker, e.g. AAPL.", "stock"))),
		"how is {sym} doing", "stock price of {sym}", "what's {sym} trading at", "quote for {sym}"),
	F("news", "glasses", "get_news|news.headlines|read_news|top_stories",
		"Get news headlines.|Read top stories on a topic.",
		Ps(O("topic", E("topic|category|section", "News topic.|Category.", "news_topic", "technology", "sports", "business", "science", "politics", "health", "world")),
			O("count", A("integer", "count|limit|max_results", "How many headlines.|Number of stories.", "quantity"))),
		"what's the news", "read me the {topic} news", "top {count} {topic} stories", "any {topic} headlines", "give me {count} headlines"),
	F("recipe", "home", "find_recipe|search_recipes|recipe.search|get_recipe",
		"Find a recipe.|Search recipes by dish.",
		Ps(R("dish", A("string", "dish|query|name", "Dish to cook.|What to search.", "recipe")),
			O("servings", A("integer", "servings|portions", "Number of servings.|Portions.", "party"))),
		"find a recipe for {dish}", "how do I make {dish}", "recipe for {dish} for {servings}", "show me how to cook {dish}"),
	F("car_climate", "car", "car_climate|set_car_temperature|vehicle.climate|precondition_car",
		"Set the car cabin temperature.|Pre-heat or cool the car.",
		Ps(R("temp", A("integer", "temperature|degrees|target", "Cabin temperature.|Target temperature.", "temperature"))),
		"(warm|cool) the car to {temp}", "set the car to {temp}", "precondition the car at {temp}", "car climate {temp}"),
	F("find_device", "phone", "find_my_device|ring_phone|locate_device|find_phone",
		"Make a device ring so it can be found.|Locate a lost device.",
		Ps(R("device", E("device|which|target", "Which device.|Device to find.", "device_kind", "phone", "watch", "earbuds", "tablet", "keys"))),
		"where is my {device}", "find my {device}", "ring my {device}", "I lost my {device}"),
}

func init() {
	slots["bool_video"] = func(g *gen) val {
		if g.r.IntN(2) == 0 {
			return val{surf: "video", v: true}
		}
		return val{surf: pick(g, "voice", "audio", "regular"), v: false}
	}
	slots["bool_share"] = func(g *gen) val {
		if g.r.IntN(2) == 0 {
			return val{surf: pick(g, "and share my location", "send my location"), v: true}
		}
		return val{surf: pick(g, "without sharing my location", "don't share my location"), v: false}
	}
	slots["door"] = func(g *gen) val {
		s := pick(g, "front", "back", "garage", "side", "patio")
		return val{surf: s, v: s, verbatim: true}
	}
	slots["lock_state"] = func(g *gen) val {
		if g.r.IntN(2) == 0 {
			return val{surf: "lock", v: true}
		}
		return val{surf: "unlock", v: false}
	}
	slots["device_kind"] = func(g *gen) val {
		s := pick(g, "phone", "watch", "earbuds", "tablet", "keys")
		return val{surf: s, v: s}
	}
}

// heldOutFamilies never appear in the training split: validation on them measures transfer
// to unseen tools.
var heldOutFamilies = map[string]bool{"podcast": true, "parcel": true, "car_climate": true, "a11y": true}

// unrelated requests that no offered tool serves: rows whose answer is [].
var chatter = []string{"tell me a joke", "what's the meaning of life", "how are you today", "who won the world cup in 2010",
	"what's the capital of australia", "sing me a song", "how tall is mount everest", "thank you", "never mind",
	"what time is it in tokyo", "explain quantum physics simply", "good night", "what's two plus two", "I'm bored",
	"recommend a good book", "how do magnets work", "what's your name", "who invented the telephone"}

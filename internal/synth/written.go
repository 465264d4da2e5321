package synth

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/needle-router/needle/internal/toolspec"
)

// Written API tools: calculation and lookup functions of the kind libraries and web APIs
// expose (geometry, physics, finance, statistics, places, sports, media, science), asked
// for in written sentences ("Calculate the area of a triangle with a base of 10 and a
// height of 5."). Their values are numbers, lists, codes and names stated in the question,
// so they teach calling an unfamiliar schema by reading it: the assistant families above
// cover a watch's own tools, these the tools an agent framework registers.

// wQty is a kind of parameter: its names, type, descriptions, how a value is said and how
// one is drawn.
type wQty struct {
	names []string
	typ   string // JSON Schema type
	items string // item type of an array
	descs []string
	say   []string // clause templates: {w} the parameter's words, {v} the value as said
	val   func(g *gen) (surf string, v any)
	enum  []string // the parameter's enum (string type); val draws from it when nil
	// plural names two values of this kind said together ("the two numbers 40 and 50",
	// "sides 3 and 4"): a count word next to the values that is not one of them.
	plural []string
}

// wSubj is a function: what it computes or finds, its names and its parameters (qty keys;
// a trailing ? marks an optional one).
type wSubj struct {
	domain string
	lookup bool   // find/get verbs rather than calculate/compute
	object string // "area of a triangle"
	names  string // |-separated function names
	desc   string
	params string // space-separated qty keys
}

var calcVerbs = []string{"Calculate", "Compute", "Find", "Determine", "Work out", "Get"}
var lookVerbs = []string{"Find", "Get", "Look up", "Retrieve", "Search for", "Show me", "Fetch"}

func num(lo, hi int) func(g *gen) (string, any) {
	return func(g *gen) (string, any) { n := g.intIn(lo, hi); return strconv.Itoa(n), n }
}

// dec draws a decimal with the given number of places, e.g. 3.75.
func dec(lo, hi, places int) func(g *gen) (string, any) {
	return func(g *gen) (string, any) {
		p := 1
		for i := 0; i < places; i++ {
			p *= 10
		}
		n := g.intIn(lo*p, hi*p)
		if n%p == 0 { // a whole number is said and written as one: "31", not 31.0
			return strconv.Itoa(n / p), n / p
		}
		f := float64(n) / float64(p)
		return strconv.FormatFloat(f, 'f', -1, 64), f
	}
}

func words2(ws ...string) func(g *gen) (string, any) {
	return func(g *gen) (string, any) { s := ws[g.r.IntN(len(ws))]; return s, s }
}

var wSayNum = []string{"a {w} of {v}", "{w} {v}", "{w} = {v}", "{w} of {v}", "{v} as the {w}"}
var wSaySigned = []string{"{w} = {v}", "{w}={v}", "{w} {v}", "{w} equal to {v}"}

// signed draws an integer in [lo, hi], which includes negatives (e.g. -3) when lo < 0.
func signed(lo, hi int) func(g *gen) (string, any) {
	return func(g *gen) (string, any) { n := g.intIn(lo, hi); return strconv.Itoa(n), n }
}

var wQtys = map[string]*wQty{
	"length":   {plural: []string{"lengths", "sides", "dimensions"}, names: []string{"base", "height", "width", "length", "side", "side_length"}, typ: "number", descs: []string{"Length in units.", "The {w} of the shape.", "Length."}, say: wSayNum, val: dec(1, 60, 0)},
	"radius":   {names: []string{"radius", "r"}, typ: "number", descs: []string{"The radius.", "Radius of the circle in units."}, say: wSayNum, val: dec(1, 30, 1)},
	"unit":     {names: []string{"unit", "units"}, typ: "string", descs: []string{"Unit of measure (default 'units').", "The unit of the result."}, say: []string{"in {v}", "using {v}"}, val: words2("cm", "meters", "inches", "feet", "km", "miles", "mm")},
	"intn":     {plural: []string{"numbers", "integers", "values"}, names: []string{"n", "number", "num", "value", "x"}, typ: "integer", descs: []string{"The number.", "A positive integer.", "Input value."}, say: []string{"{v}", "of {v}", "for {v}", "{w} {v}"}, val: num(2, 500)},
	"intlim":   {names: []string{"limit", "max_results", "top_n", "count"}, typ: "integer", descs: []string{"Maximum number of results.", "How many results to return."}, say: []string{"top {v}", "{v} results", "limit {v}", "up to {v}"}, val: num(2, 25)},
	"nums":     {names: []string{"numbers", "values", "data", "list", "scores", "data_points"}, typ: "array", items: "number", descs: []string{"A list of numbers.", "The data set."}, say: []string{"{v}", "of {v}", "for the numbers {v}", "of the list {v}"}, val: numList},
	"money":    {plural: []string{"amounts", "sums"}, names: []string{"principal", "amount", "initial_investment", "loan_amount", "price"}, typ: "number", descs: []string{"Amount in dollars.", "The {w} in USD."}, say: []string{"{v}", "a {w} of {v}", "{w} {v}"}, val: dollars},
	"ratepct":  {names: []string{"rate", "interest_rate", "annual_rate", "growth_rate"}, typ: "number", descs: []string{"Rate as a decimal (e.g. 0.05 for 5%).", "Annual rate as a decimal fraction."}, say: []string{"at {v}", "a {w} of {v}", "{w} {v}"}, val: pctDecimal},
	"years":    {names: []string{"years", "time", "duration", "term_years", "period"}, typ: "integer", descs: []string{"Number of years.", "Duration in years."}, say: []string{"over {v} years", "for {v} years", "{w} of {v} years", "in {v} years"}, val: num(1, 40)},
	"mass":     {names: []string{"mass", "weight", "mass_kg"}, typ: "number", descs: []string{"Mass in kilograms.", "Mass of the object in kg."}, say: []string{"a {w} of {v} kg", "{w} {v} kg", "{v} kg"}, val: dec(1, 500, 0)},
	"speed":    {names: []string{"velocity", "speed", "initial_velocity"}, typ: "number", descs: []string{"Speed in m/s.", "Initial velocity in meters per second."}, say: []string{"a {w} of {v} m/s", "{w} {v} m/s", "moving at {v} m/s"}, val: dec(1, 120, 0)},
	"secs":     {names: []string{"time", "seconds", "duration", "t"}, typ: "number", descs: []string{"Time in seconds.", "Elapsed time (s)."}, say: []string{"for {v} seconds", "after {v} seconds", "{w} {v} s", "over {v} seconds"}, val: dec(1, 90, 0)},
	"tempc":    {names: []string{"temperature", "temp", "celsius"}, typ: "number", descs: []string{"Temperature in degrees Celsius."}, say: []string{"at {v} degrees Celsius", "{w} {v} C", "a {w} of {v} degrees"}, val: dec(-20, 120, 0)},
	"city":     {names: []string{"city", "location", "place"}, typ: "string", descs: []string{"City name, e.g. 'Boston, MA'.", "The city.", "Name of the city."}, say: []string{"in {v}", "for {v}", "{w} {v}", "near {v}"}, val: cityName},
	"city2":    {names: []string{"destination", "end_location", "to_city"}, typ: "string", descs: []string{"Where the trip ends.", "Destination city."}, say: []string{"to {v}"}, val: cityName},
	"city1":    {names: []string{"origin", "start_location", "from_city"}, typ: "string", descs: []string{"Where the trip starts.", "Starting city."}, say: []string{"from {v}"}, val: cityName},
	"country":  {names: []string{"country", "nation", "region"}, typ: "string", descs: []string{"Country name.", "The country."}, say: []string{"in {v}", "for {v}", "of {v}"}, val: countryName},
	"year":     {names: []string{"year", "season"}, typ: "integer", descs: []string{"The year.", "Four-digit year."}, say: []string{"in {v}", "for {v}", "for the year {v}", "during {v}"}, val: num(1950, 2025)},
	"person":   {names: []string{"name", "player_name", "author", "artist", "person"}, typ: "string", descs: []string{"Full name.", "The person's name."}, say: []string{"for {v}", "by {v}", "of {v}"}, val: personName},
	"company":  {names: []string{"company", "company_name", "organization"}, typ: "string", descs: []string{"Company name.", "The company, as registered."}, say: []string{"for {v}", "of {v}", "at {v}"}, val: companyName},
	"ticker":   {names: []string{"symbol", "ticker", "stock_symbol"}, typ: "string", descs: []string{"Stock ticker symbol, e.g. 'AAPL'.", "The ticker."}, say: []string{"for {v}", "of {v}", "({v})"}, val: tickerSym},
	"team":     {names: []string{"team", "team_name", "club"}, typ: "string", descs: []string{"Team name.", "Name of the team."}, say: []string{"for the {v}", "of the {v}", "for {v}"}, val: teamName},
	"title":    {names: []string{"title", "book_title", "movie_title", "name"}, typ: "string", descs: []string{"The title.", "Exact title."}, say: []string{"\"{v}\"", "titled {v}", "called {v}"}, val: titleName},
	"genre":    {names: []string{"genre", "category"}, typ: "string", descs: []string{"Genre to filter by."}, say: []string{"{v}", "in the {v} genre"}, enum: []string{"comedy", "drama", "horror", "action", "jazz", "rock", "fantasy", "mystery"}},
	"cuisine":  {names: []string{"cuisine", "food_type"}, typ: "string", descs: []string{"Type of food."}, say: []string{"{v}", "serving {v} food"}, val: words2("Italian", "Thai", "Mexican", "Indian", "sushi", "vegan", "Chinese", "Greek")},
	"lang":     {names: []string{"language", "target_language", "lang"}, typ: "string", descs: []string{"Language name.", "Language to use."}, say: []string{"in {v}", "into {v}"}, val: words2("Spanish", "French", "German", "Japanese", "Italian", "Portuguese", "Korean", "Hindi")},
	"date":     {names: []string{"date", "start_date", "day"}, typ: "string", descs: []string{"Date in YYYY-MM-DD format.", "The date (YYYY-MM-DD)."}, say: []string{"on {v}", "for {v}"}, val: isoDate},
	"formula":  {names: []string{"compound", "formula", "molecule"}, typ: "string", descs: []string{"Chemical formula, e.g. H2O.", "The compound."}, say: []string{"of {v}", "for {v}"}, val: words2("H2O", "CO2", "NaCl", "C6H12O6", "CH4", "NH3", "H2SO4", "C2H5OH", "CaCO3", "O2")},
	"species":  {names: []string{"species", "animal", "organism"}, typ: "string", descs: []string{"Species name.", "Common or scientific name."}, say: []string{"of the {v}", "for {v}", "of {v}"}, val: words2("African elephant", "gray wolf", "Homo sapiens", "bald eagle", "blue whale", "honey bee", "red fox", "Panthera leo")},
	"words":    {names: []string{"keywords", "tags", "ingredients", "items", "skills"}, typ: "array", items: "string", descs: []string{"A list of words.", "Items to include."}, say: []string{"with {v}", "{w} {v}", "including {v}"}, val: wordList},
	"detail":   {names: []string{"detailed", "include_details", "verbose", "show_all"}, typ: "boolean", descs: []string{"Include full details (default false)."}, say: []string{"with full details", "in detail", "including all details"}, val: func(g *gen) (string, any) { return "", true }},
	"round":    {names: []string{"decimal_places", "precision", "round_to"}, typ: "integer", descs: []string{"Digits after the decimal point."}, say: []string{"rounded to {v} decimal places", "to {v} decimals"}, val: num(1, 4)},
	"freq":     {names: []string{"compounding", "compounds_per_year", "n"}, typ: "integer", descs: []string{"Times interest compounds per year."}, say: []string{"compounded {v} times a year", "with {v} compounding periods per year"}, val: num(2, 12)},
	"charge":   {plural: []string{"charges"}, names: []string{"charge", "q", "charge1"}, typ: "number", descs: []string{"Charge in coulombs."}, say: []string{"a {w} of {v} C", "{v} coulombs"}, val: dec(0, 9, 2)},
	"dist":     {names: []string{"distance", "r", "separation"}, typ: "number", descs: []string{"Distance in meters."}, say: []string{"{v} meters apart", "a {w} of {v} m", "at {v} meters"}, val: dec(1, 50, 1)},
	"angle":    {names: []string{"angle", "theta", "launch_angle"}, typ: "number", descs: []string{"Angle in degrees."}, say: []string{"at {v} degrees", "an {w} of {v} degrees"}, val: num(5, 85)},
	"text":     {names: []string{"text", "sentence", "query", "input_text"}, typ: "string", descs: []string{"The text to process."}, say: []string{"\"{v}\"", "for '{v}'"}, val: phrase},
	"poly":     {names: []string{"coefficients", "coeffs"}, typ: "array", items: "number", descs: []string{"Polynomial coefficients, highest power first."}, say: []string{"with coefficients {v}", "{v}"}, val: numList},
	"dice":     {names: []string{"sides", "number_of_sides", "faces"}, typ: "integer", descs: []string{"Sides on the die."}, say: []string{"a {v}-sided die", "a die with {v} sides"}, val: num(4, 20)},
	"trials":   {names: []string{"trials", "n", "num_trials", "rolls"}, typ: "integer", descs: []string{"Number of trials."}, say: []string{"in {v} trials", "over {v} rolls", "{v} times"}, val: num(2, 100)},
	"prob":     {names: []string{"probability", "p", "success_rate"}, typ: "number", descs: []string{"Probability of success (0-1)."}, say: []string{"with probability {v}", "a success rate of {v}", "p = {v}"}, val: dec(0, 1, 2)},
	"rating":   {names: []string{"min_rating", "rating"}, typ: "number", descs: []string{"Minimum average rating."}, say: []string{"rated at least {v}", "with a rating above {v}"}, val: dec(1, 4, 1)},
	"currency": {names: []string{"currency", "target_currency", "to_currency"}, typ: "string", descs: []string{"Three-letter currency code."}, say: []string{"in {v}", "to {v}"}, val: words2("USD", "EUR", "GBP", "JPY", "CAD", "AUD", "INR", "CHF")},
	"basecur":  {names: []string{"base_currency", "from_currency"}, typ: "string", descs: []string{"Currency to convert from."}, say: []string{"from {v}"}, val: words2("USD", "EUR", "GBP", "JPY", "CAD", "AUD", "MXN", "SEK")},
	"coefa":    {names: []string{"a"}, typ: "integer", descs: []string{"Coefficient of x squared.", "The quadratic coefficient."}, say: wSaySigned, val: signed(-9, 12)},
	"coefb":    {names: []string{"b"}, typ: "integer", descs: []string{"Coefficient of x.", "The linear coefficient."}, say: wSaySigned, val: signed(-30, 30)},
	"coefc":    {names: []string{"c"}, typ: "integer", descs: []string{"The constant term."}, say: wSaySigned, val: signed(-40, 40)},
	"lat":      {names: []string{"latitude", "lat"}, typ: "number", descs: []string{"Latitude in degrees (-90 to 90).", "Latitude, south negative."}, say: []string{"latitude {v}", "{w} {v}", "at {w} {v}"}, val: dec(-60, 70, 4)},
	"lon":      {names: []string{"longitude", "lon", "lng"}, typ: "number", descs: []string{"Longitude in degrees (-180 to 180).", "Longitude, west negative."}, say: []string{"longitude {v}", "{w} {v}"}, val: dec(-179, 179, 4)},
	"dtemp":    {names: []string{"temperature_change", "delta_t", "temp_change"}, typ: "number", descs: []string{"Change in temperature in kelvin (negative when it cools)."}, say: []string{"a temperature change of {v} K", "{w} of {v}", "a change of {v} kelvin"}, val: dec(-80, 80, 0)},
	"sport":    {names: []string{"sport", "league"}, typ: "string", descs: []string{"The sport or league."}, say: []string{"in {v}", "for {v}"}, val: words2("basketball", "soccer", "tennis", "NBA", "NFL", "cricket", "baseball", "hockey")},
}

// The subjects; the last wHeldOut are never used for training.
var wSubjs = []wSubj{
	{"geometry", false, "area of a triangle", "tri_area|area_of_triangle|shapes.triangle_area", "Calculate the area of a triangle from its base and height.", "length length unit?"},
	{"geometry", false, "area of a circle", "disc_area|area_of_circle|shapes.circle_area", "Area of a circle given its radius.", "radius unit?"},
	{"geometry", false, "circumference of a circle", "circle_perimeter_len|perimeter_of_circle", "Circumference of a circle.", "radius unit?"},
	{"geometry", false, "hypotenuse of a right triangle", "right_triangle_hyp|pythagoras_side|trig.hyp_length", "Length of the hypotenuse from the two legs.", "length length"},
	{"geometry", false, "volume of a cylinder", "cyl_volume|volume_of_cylinder", "Volume of a cylinder.", "radius length unit?"},
	{"geometry", false, "perimeter of a rectangle", "rect_perimeter|perimeter_of_rectangle", "Perimeter of a rectangle.", "length length unit?"},
	{"math", false, "factorial", "fact_of|n_factorial|arith.factorial_of", "Factorial of a non-negative integer.", "intn"},
	{"math", false, "prime factors", "factor_into_primes|primes_of|numtheory.factorize", "List the prime factors of a number.", "intn"},
	{"math", false, "greatest common divisor", "greatest_divisor|arith.common_divisor|gcd_of_pair", "Greatest common divisor of two integers.", "intn intn"},
	{"math", false, "least common multiple", "lowest_multiple|arith.common_multiple|lcm_of_pair", "Least common multiple of two integers.", "intn intn"},
	{"math", false, "roots of the polynomial", "polynomial_zeros|poly.solve_roots|zeros_of_poly", "Roots of a polynomial.", "poly"},
	{"math", false, "square root", "root_of|arith.square_root|sqrt_value", "Square root of a number.", "intn round?"},
	{"math", false, "sum of the numbers", "total_of|arith.add_list|list_total", "Sum of a list of numbers.", "nums round?"},
	{"stats", false, "mean", "mean_of|stats.average_of|avg_values", "Arithmetic mean of a data set.", "nums round?"},
	{"stats", false, "standard deviation", "stdev_of|stats.spread|deviation_of_values", "Standard deviation of a data set.", "nums"},
	{"stats", false, "median", "median_of|stats.middle_value|middle_of_list", "Median of a list of numbers.", "nums"},
	{"stats", false, "probability of getting exactly k successes", "binom_pmf|stats.binomial_chance|k_successes_prob", "Binomial probability of successes in trials.", "trials intn prob"},
	{"stats", false, "probability of rolling a six", "die_odds|chance_of_six|games.die_probability", "Probability for a fair die.", "dice trials?"},
	{"physics", false, "kinetic energy", "energy_of_motion|mech.kinetic|ke_compute", "Kinetic energy of a moving mass.", "mass speed"},
	{"physics", false, "final velocity", "speed_after|mech.end_velocity|velocity_after_time", "Velocity after constant acceleration.", "speed secs"},
	{"physics", false, "electrostatic force", "charge_force|em.coulomb|force_between_charges", "Force between two point charges.", "charge charge dist"},
	{"physics", false, "range of a projectile", "launch_range|mech.projectile_distance|projectile_reach", "Horizontal range of a projectile.", "speed angle"},
	{"physics", false, "momentum", "momentum_of|mech.momentum|p_compute", "Momentum of an object.", "mass speed"},
	{"chemistry", false, "molar mass", "formula_mass|chem.mass_per_mole|molar_weight_of", "Molar mass of a compound in g/mol.", "formula"},
	{"chemistry", false, "boiling point", "boil_temp|chem.boiling_temp|boiling_point_of", "Boiling point of a compound.", "formula"},
	{"chemistry", false, "density of water", "water_density_at|fluids.water_density", "Density of water at a temperature.", "tempc"},
	{"finance", false, "compound interest", "grow_investment|fin.compound_growth|interest_compounded", "Future value with compound interest.", "money ratepct years freq?"},
	{"finance", false, "monthly mortgage payment", "home_loan_payment|fin.monthly_installment|mortgage_monthly", "Monthly payment of a fixed-rate loan.", "money ratepct years"},
	{"finance", false, "return on investment", "investment_return|fin.roi_of|gain_ratio", "Return on investment.", "money money"},
	{"finance", true, "stock price", "quote_for_ticker|markets.last_price|share_price_now", "Current price of a stock.", "ticker detail?"},
	{"finance", true, "exchange rate", "fx_rate_between|money.rate_for|rate_of_exchange", "Exchange rate between two currencies.", "basecur currency"},
	{"finance", false, "conversion of the amount", "money_convert|fx.convert_amount|exchange_amount", "Convert an amount between currencies.", "money basecur currency"},
	{"finance", true, "company revenue", "revenue_of|corp.annual_revenue|company_sales_total", "Annual revenue of a company.", "company year?"},
	{"places", true, "weather forecast", "forecast_for_city|wx.forecast|city_weather_outlook", "Weather forecast for a city.", "city intlim? detail?"},
	{"places", true, "population", "population_of|census.count|people_count_lookup", "Population of a country or city.", "country year?"},
	{"places", true, "driving distance", "road_distance|maps.drive_length|distance_by_road", "Road distance between two cities.", "city1 city2 unit?"},
	{"places", true, "restaurants", "eateries_near|dining.search_places|lookup_restaurants", "Search restaurants near a place.", "city cuisine? rating? intlim?"},
	{"places", true, "hotels", "lodging_search|stays.find|hotels_in_city", "Search hotels in a city.", "city date? intlim?"},
	{"places", true, "time zone", "tz_of_city|clock.zone_lookup|city_time_zone", "Time zone of a city.", "city"},
	{"sports", true, "player statistics", "athlete_stats|sportsdb.player_line|player_numbers", "Season statistics of a player.", "person year? sport?"},
	{"sports", true, "team standings", "league_table|sportsdb.table|standings_lookup", "League standings.", "sport year?"},
	{"sports", true, "game schedule", "fixtures_for_team|sportsdb.fixtures|upcoming_games", "Upcoming games of a team.", "team intlim?"},
	{"media", true, "movies", "film_search|cinema.lookup_films|films_matching", "Search movies.", "genre year? intlim?"},
	{"media", true, "book details", "book_record|catalog.book_details|lookup_book", "Details of a book.", "title person?"},
	{"media", true, "songs", "tracks_by_artist|audio.track_search|find_tracks", "Search songs by artist.", "person genre? intlim?"},
	{"media", true, "lyrics", "song_words|audio.lyrics_for|lyrics_of_song", "Lyrics of a song.", "title person"},
	{"language", false, "translation", "render_in_language|lang.convert_text|text_to_language", "Translate text into another language.", "text lang"},
	{"language", false, "sentiment", "tone_of_text|nlp.polarity|text_mood", "Sentiment of a text.", "text"},
	{"language", true, "definition", "meaning_of|dict.define_term|word_meaning", "Definition of a word.", "text lang?"},
	{"biology", true, "lifespan", "life_expectancy_of|zoo.lifespan_of|species_age_span", "Typical lifespan of a species.", "species"},
	{"biology", true, "habitat", "where_species_lives|zoo.habitat_of|native_range", "Natural habitat of a species.", "species country?"},
	{"history", true, "historical events", "events_in_year|chronicle.events|history_of_year", "Major events in a country and year.", "country year intlim?"},
	{"jobs", true, "job listings", "openings_search|careers.find_openings|vacancies_matching", "Search job listings.", "words city? intlim?"},
	{"cooking", true, "recipes", "dishes_with|kitchen.recipe_lookup|cook_ideas", "Search recipes by ingredients.", "words cuisine? intlim?"},
	{"math", false, "roots of the quadratic equation", "second_degree_roots|algebra.quad_zeros|solve_ax2_bx_c", "Real roots of a*x^2 + b*x + c = 0.", "coefa coefb coefc"},
	{"places", true, "nearest airport", "airport_closest_to|geo.airport_near|nearby_airfield", "The airport nearest to a point.", "lat lon intlim?"},
	{"physics", false, "heat released", "heat_from_cooling|thermo.heat_delta|q_of_mass", "Heat absorbed (positive) or released (negative) by a mass of water.", "mass dtemp"},
	{"ecommerce", true, "products", "catalog_query|store.item_search|items_matching", "Search a product catalog.", "words rating? intlim?"},
	// held out
	{"geometry", false, "area of a rectangle", "rect_area_of|shapes.rectangle_area", "Area of a rectangle.", "length length unit?"},
	{"physics", false, "potential energy", "pe_of_height|mech.potential", "Gravitational potential energy.", "mass length"},
	{"finance", false, "simple interest", "flat_interest|fin.simple_interest_of", "Simple interest on a principal.", "money ratepct years"},
	{"places", true, "air quality", "aqi_for_city|air.index_lookup", "Air quality index for a city.", "city date?"},
	{"media", true, "concerts", "gigs_near|events.concert_lookup", "Upcoming concerts.", "city genre? intlim?"},
	{"stats", false, "variance", "variance_of|stats.var_of", "Variance of a data set.", "nums"},
	{"sports", true, "match results", "recent_results|sportsdb.results_for", "Results of a team's recent matches.", "team year? intlim?"},
}

const wHeldOut = 7

func numList(g *gen) (string, any) {
	n := 2 + g.r.IntN(5)
	var vs []any
	var ss []string
	for i := 0; i < n; i++ {
		s, v := dec(0, 99, g.r.IntN(2))(g)
		vs = append(vs, v)
		ss = append(ss, s)
	}
	if g.r.IntN(2) == 0 {
		return "[" + strings.Join(ss, ", ") + "]", vs
	}
	return joinAnd(ss), vs
}

func wordList(g *gen) (string, any) {
	pool := []string{"python", "data analysis", "chicken", "garlic", "tomato", "rice", "basil", "wireless", "headphones", "laptop", "leather", "machine learning",
		"design", "sales", "running shoes", "organic", "spinach", "lemon", "marketing", "java", "cloud", "camping", "tent", "backpack", g.coined()}
	n := 1 + g.r.IntN(3)
	var vs []any
	var ss []string
	seen := map[string]bool{}
	for len(ss) < n {
		w := pool[g.r.IntN(len(pool))]
		if seen[w] {
			continue
		}
		seen[w] = true
		vs = append(vs, w)
		ss = append(ss, w)
	}
	return joinAnd(ss), vs
}

func dollars(g *gen) (string, any) {
	n := g.intIn(1, 200) * []int{10, 50, 100, 1000}[g.r.IntN(4)]
	s := strconv.Itoa(n)
	switch g.r.IntN(3) {
	case 0:
		return "$" + s, n
	case 1:
		return s + " dollars", n
	}
	return s, n
}

func pctDecimal(g *gen) (string, any) {
	n := g.intIn(1, 12)
	f := float64(n) / 100
	if g.r.IntN(2) == 0 {
		return strconv.Itoa(n) + "%", f // rewritten: the description asks for a fraction
	}
	return strconv.FormatFloat(f, 'f', -1, 64), f
}

func cityName(g *gen) (string, any) {
	var s string
	switch g.r.IntN(4) {
	case 0:
		s = g.town()
	case 1:
		s = g.f.City() + ", " + g.f.StateAbr()
	default:
		s = pick(g, "Boston", "Chicago", "Seattle", "Tokyo", "Paris", "London", "Berlin", "Madrid", "Sydney", "Toronto", "Denver", "Austin", "Mumbai", "Cairo", "Lima", "Oslo", "Nairobi", "Dallas", "Rome", "Seoul", g.f.City())
	}
	return s, s
}

func countryName(g *gen) (string, any) { s := g.f.Country(); return s, s }
func personName(g *gen) (string, any)  { s := g.f.FirstName() + " " + g.f.LastName(); return s, s }
func companyName(g *gen) (string, any) { s := g.f.Company(); return s, s }
func titleName(g *gen) (string, any)   { s := g.title(); return s, s }
func teamName(g *gen) (string, any) {
	s := g.town() + " " + pick(g, "Tigers", "Rovers", "Hawks", "United", "Comets", "Giants", "Wolves", "Sharks")
	return s, s
}
func tickerSym(g *gen) (string, any) {
	s := strings.ToUpper(g.f.LetterN(uint(2 + g.r.IntN(3))))
	return s, s
}
func isoDate(g *gen) (string, any) {
	s := fmt.Sprintf("%d-%02d-%02d", g.intIn(2020, 2026), g.intIn(1, 12), g.intIn(1, 28))
	return s, s
}
func phrase(g *gen) (string, any) {
	s := pick(g, "I love this product", "The weather is terrible today", "Where is the train station", "Good morning, how are you",
		"The meeting was moved to Friday", g.f.HipsterSentence(), "serendipity", "ephemeral", "thank you very much")
	s = strings.TrimSuffix(s, ".")
	return s, s
}

// writtenTool instantiates subject s as a tool.
func (g *gen) writtenTool(si int) *instance {
	s := &wSubjs[si]
	names := split(s.names)
	in := &instance{domain: "written:" + s.domain, ws: s}
	in.tool = toolspec.Tool{Name: names[g.r.IntN(len(names))], Description: s.desc}
	used := map[string]bool{}
	for _, k := range strings.Fields(s.params) {
		opt := strings.HasSuffix(k, "?")
		q := wQtys[strings.TrimSuffix(k, "?")]
		if q == nil {
			panic("synth: no written quantity " + k)
		}
		var name string
		for try := 0; try < 20; try++ {
			name = q.names[g.r.IntN(len(q.names))]
			if !used[name] {
				break
			}
		}
		if used[name] {
			name += "2"
		}
		used[name] = true
		desc := strings.ReplaceAll(q.descs[g.r.IntN(len(q.descs))], "{w}", words(name))
		p := toolspec.Param{Name: name, Type: q.typ, Description: desc, Required: !opt}
		if q.enum != nil {
			for _, e := range q.enum {
				p.Enum = append(p.Enum, e)
			}
		}
		if q.items != "" {
			p.Items = &toolspec.Param{Type: q.items}
		}
		in.tool.Params = append(in.tool.Params, p)
		in.wq = append(in.wq, q)
	}
	g.mask(in)
	return in
}

// writtenIndex draws a subject of this split; domain, when set, keeps to one domain (a near
// miss).
func (g *gen) writtenIndex(domain string, exclude *wSubj) int {
	lo, n := 0, len(wSubjs)-wHeldOut
	if g.cfg.Split == HeldOut && domain == "" {
		lo, n = n, wHeldOut
	}
	for try := 0; try < 30; try++ {
		i := lo + g.r.IntN(n)
		if &wSubjs[i] != exclude && (domain == "" || wSubjs[i].domain == domain) {
			return i
		}
	}
	return -1
}

// fillWritten states the call in a written sentence and returns it with the arguments.
func (g *gen) fillWritten(in *instance) (string, json.RawMessage) {
	s := in.ws
	var clauses []string
	firstBare := false // the first clause names its parameter ("a base of 10"): may take "with"
	b := []byte{'{'}
	n := 0
	grouped := -1 // the first of two values said together
	var groupSurf, groupW []string
	for i, q := range in.wq {
		p := in.tool.Params[i]
		if !p.Required && g.r.IntN(2) == 0 {
			continue
		}
		if grouped < 0 && q.plural != nil && i+1 < len(in.wq) && in.wq[i+1] == q && in.tool.Params[i+1].Required && g.r.IntN(2) == 0 {
			grouped = i
		}
		var surf string
		var v any
		if q.enum != nil {
			e := q.enum[g.r.IntN(len(q.enum))]
			surf, v = e, e
		} else {
			surf, v = q.val(g)
		}
		w := words(p.Name)
		if strings.HasPrefix(p.Name, "arg_") { // masked: say it by its description
			w = strings.TrimSuffix(strings.ToLower(p.Description), ".")
			for _, a := range []string{"the ", "a ", "an "} {
				w = strings.TrimPrefix(w, a)
			}
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = toolspec.AppendString(b, p.Name)
		b = append(b, ':')
		b = toolspec.AppendValue(b, v)
		if grouped >= 0 && (i == grouped || i == grouped+1) {
			groupSurf, groupW = append(groupSurf, surf), append(groupW, w)
			if i == grouped+1 {
				clauses = append(clauses, pick(g, "of ", "for ", "with ", "given ")+g.groupClause(q, groupW, groupSurf))
			}
			continue
		}
		say := q.say[g.r.IntN(len(q.say))]
		c := strings.NewReplacer("{w}", w, "{v}", surf).Replace(say)
		if strings.HasPrefix(say, "a ") && strings.ContainsRune("aeiou", rune(c[2])) { // the article, not a parameter named a
			c = "an " + c[2:]
		}
		if len(clauses) == 0 {
			firstBare = strings.HasPrefix(say, "{w}") || strings.HasPrefix(say, "a ")
		}
		clauses = append(clauses, c)
	}
	b = append(b, '}')
	verb := pick(g, calcVerbs...)
	if s.lookup {
		verb = pick(g, lookVerbs...)
	}
	art := "the "
	if s.lookup && g.r.IntN(2) == 0 {
		art = ""
	}
	var rest string
	if len(clauses) > 0 {
		rest = clauses[0]
		if len(clauses) > 1 {
			rest = strings.Join(clauses[:len(clauses)-1], ", ") + pick(g, " and ", ", and ", ", ") + clauses[len(clauses)-1]
		}
		if firstBare && (strings.HasPrefix(rest, "a") || g.r.IntN(2) == 0) {
			rest = pick(g, "with ", "given ", "for ") + rest
		}
	}
	// No closing mark: row adds one for the whole sentence (a row may join several calls).
	var q string
	switch g.r.IntN(6) {
	case 0:
		q = "What is the " + s.object + " " + rest
	case 1:
		q = pick(g, "Can you ", "Could you ", "Please ", "I need to ") + strings.ToLower(verb[:1]) + verb[1:] + " " + art + s.object + " " + rest
	case 2:
		q = "I want to know the " + s.object + " " + rest
	default:
		q = verb + " " + art + s.object + " " + rest
	}
	return collapseSpaces(q), b
}

// groupClause says two values of one kind together, in parameter order: "the two numbers
// 40 and 50", "sides 3 and 4", "base and height of 6 and 10", "base and height as 6 and 10".
func (g *gen) groupClause(q *wQty, ws, vs []string) string {
	pl := q.plural[g.r.IntN(len(q.plural))]
	w1, w2 := ws[0], ws[1]
	switch g.r.IntN(4) {
	case 0:
		return pick(g, "the two ", "two ", "the ") + pl + " " + vs[0] + " and " + vs[1]
	case 1:
		return pl + " " + vs[0] + " and " + vs[1]
	case 2:
		return w1 + " and " + w2 + " of " + vs[0] + " and " + vs[1]
	}
	return pick(g, "the two ", "its ", "the ") + pl + " (" + w1 + " and " + w2 + ") as " + vs[0] + " and " + vs[1]
}

// ambiguousWritten subjects are never asked for unserved: a same-domain tool could still
// answer them (an exchange rate is a conversion of one unit).
var ambiguousWritten = map[string]bool{"exchange rate": true, "conversion of the amount": true}

// closeWritten ends a written request with the mark its first words call for.
func (g *gen) closeWritten(q string) string {
	for _, w := range []string{"What ", "Can ", "Could "} {
		if strings.HasPrefix(q, w) {
			return q + "?"
		}
	}
	return q + pick(g, ".", ".", "", "?")
}

package registry

import "encoding/json"

var (
	jsonUnmarshal = json.Unmarshal
	jsonMarshal   = json.Marshal
)

package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/needle-router/needle/internal/toolspec"
)

// argumentsStruct turns a call's arguments (a JSON object) into the protobuf Struct of
// ToolCall.arguments without changing any value. A Struct holds numbers as float64, which
// cannot hold every JSON number (9007199254740993 becomes ...992, 1e400 is out of range, a
// 4096-digit number loses all but 17 digits), so a number goes in as a number_value only
// when the float64 nearest to it reads back as the same number (its shortest decimal form
// is equal to the number's); any other number goes in as a string_value holding the
// number's JSON text exactly. arguments_json always holds the answer as JSON text.
func argumentsStruct(args []byte) (*structpb.Struct, error) {
	d := json.NewDecoder(bytes.NewReader(args))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("arguments are not a JSON object")
	}
	fields := make(map[string]*structpb.Value, len(m))
	for k, v := range m {
		fields[k] = structValue(v)
	}
	return &structpb.Struct{Fields: fields}, nil
}

func structValue(v any) *structpb.Value {
	switch x := v.(type) {
	case nil:
		return structpb.NewNullValue()
	case bool:
		return structpb.NewBoolValue(x)
	case string:
		return structpb.NewStringValue(x)
	case json.Number:
		if f, ok := exactFloat(string(x)); ok {
			return structpb.NewNumberValue(f)
		}
		return structpb.NewStringValue(string(x))
	case []any:
		l := &structpb.ListValue{Values: make([]*structpb.Value, len(x))}
		for i, e := range x {
			l.Values[i] = structValue(e)
		}
		return structpb.NewListValue(l)
	case map[string]any:
		s := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(x))}
		for k, e := range x {
			s.Fields[k] = structValue(e)
		}
		return structpb.NewStructValue(s)
	}
	return structpb.NewNullValue() // json.Decoder gives no other type
}

// exactFloat returns the float64 of a JSON number when it reads back as the same number:
// its shortest decimal form equals the number exactly (0.1 does; 9007199254740993, 1e400
// and 1e-400 do not).
func exactFloat(n string) (float64, bool) {
	f, err := strconv.ParseFloat(n, 64)
	if err != nil {
		return 0, false // out of range (±Inf) or not a number
	}
	want, ok1 := toolspec.ParseDecimal(n)
	got, ok2 := toolspec.ParseDecimal(strconv.FormatFloat(f, 'g', -1, 64))
	return f, ok1 && ok2 && want.Cmp(got) == 0
}

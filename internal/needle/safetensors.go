package needle

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
)

// ErrCorruptWeights marks a weights file that cannot be read or does not fit the config.
var ErrCorruptWeights = errors.New("needle: corrupt weights")

type tensorInfo struct {
	DType   string `json:"dtype"`
	Shape   []int  `json:"shape"`
	Offsets [2]int `json:"data_offsets"`
}

// safetensors is a parsed file: header plus the data section.
type safetensors struct {
	tensors map[string]tensorInfo
	data    []byte
	meta    map[string]string
}

func readSafetensors(path string) (*safetensors, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseSafetensors(b)
}

func parseSafetensors(b []byte) (*safetensors, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: file too short", ErrCorruptWeights)
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("%w: header length %d past end of file", ErrCorruptWeights, n)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &raw); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorruptWeights, err)
	}
	st := &safetensors{tensors: map[string]tensorInfo{}, data: b[8+n:]}
	for k, v := range raw {
		if k == "__metadata__" {
			_ = json.Unmarshal(v, &st.meta)
			continue
		}
		var ti tensorInfo
		if err := json.Unmarshal(v, &ti); err != nil {
			return nil, fmt.Errorf("%w: tensor %s: %v", ErrCorruptWeights, k, err)
		}
		size := dtypeSize(ti.DType)
		if size == 0 {
			return nil, fmt.Errorf("%w: tensor %s: unsupported dtype %s", ErrCorruptWeights, k, ti.DType)
		}
		if ti.Offsets[0] < 0 || ti.Offsets[1] > len(st.data) || ti.Offsets[1]-ti.Offsets[0] != numel(ti.Shape)*size {
			return nil, fmt.Errorf("%w: tensor %s: offsets %v do not fit shape %v", ErrCorruptWeights, k, ti.Offsets, ti.Shape)
		}
		st.tensors[k] = ti
	}
	return st, nil
}

func dtypeSize(dt string) int {
	switch dt {
	case "F32", "I32":
		return 4
	case "F16":
		return 2
	case "I8", "U8":
		return 1
	}
	return 0
}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

func (st *safetensors) names() []string {
	out := make([]string, 0, len(st.tensors))
	for k := range st.tensors {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// float32s returns tensor name as float32, dequantising int8 storage: a tensor stored I8
// with a companion "<name>.scale" of shape [rows, cols/32] holds w = q * scale per group of
// 32 consecutive inputs (the layout train/train.py exports).
func (st *safetensors) float32s(name string) ([]float32, []int, error) {
	ti := st.tensors[name]
	raw := st.data[ti.Offsets[0]:ti.Offsets[1]]
	n := numel(ti.Shape)
	out := make([]float32, n)
	switch ti.DType {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case "F16":
		for i := range out {
			out[i] = halfToFloat(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case "I8":
		if err := st.checkInt8(name); err != nil {
			return nil, nil, err
		}
		sc := st.tensors[name+".scale"]
		sraw := st.data[sc.Offsets[0]:sc.Offsets[1]]
		for i := range out {
			s := math.Float32frombits(binary.LittleEndian.Uint32(sraw[4*(i/32):]))
			out[i] = float32(int8(raw[i])) * s
		}
	default:
		return nil, nil, fmt.Errorf("%w: tensor %s: dtype %s is not a float weight", ErrCorruptWeights, name, ti.DType)
	}
	return out, ti.Shape, nil
}

// checkInt8 validates an I8 tensor's companion scale: [rows, cols/32] F32.
func (st *safetensors) checkInt8(name string) error {
	ti := st.tensors[name]
	sc, ok := st.tensors[name+".scale"]
	if !ok || len(ti.Shape) != 2 {
		return fmt.Errorf("%w: int8 tensor %s has no %s.scale", ErrCorruptWeights, name, name)
	}
	rows, cols := ti.Shape[0], ti.Shape[1]
	if cols%32 != 0 || len(sc.Shape) != 2 || sc.Shape[0] != rows || sc.Shape[1] != cols/32 || sc.DType != "F32" {
		return fmt.Errorf("%w: %s.scale has shape %v %s, want [%d %d] F32", ErrCorruptWeights, name, sc.Shape, sc.DType, rows, cols/32)
	}
	return nil
}

// int8s returns an I8 tensor's integers and its per-32-input scales as stored.
func (st *safetensors) int8s(name string) ([]int8, []float32, bool) {
	ti, ok := st.tensors[name]
	if !ok || ti.DType != "I8" || st.checkInt8(name) != nil {
		return nil, nil, false
	}
	sc := st.tensors[name+".scale"]
	raw := st.data[ti.Offsets[0]:ti.Offsets[1]]
	q := make([]int8, len(raw))
	for i, b := range raw {
		q[i] = int8(b)
	}
	sraw := st.data[sc.Offsets[0]:sc.Offsets[1]]
	s := make([]float32, len(sraw)/4)
	for i := range s {
		s[i] = math.Float32frombits(binary.LittleEndian.Uint32(sraw[4*i:]))
	}
	return q, s, true
}

func (st *safetensors) int32s(name string) ([]int32, error) {
	ti, ok := st.tensors[name]
	if !ok || ti.DType != "I32" {
		return nil, fmt.Errorf("%w: no I32 tensor %s", ErrCorruptWeights, name)
	}
	raw := st.data[ti.Offsets[0]:ti.Offsets[1]]
	out := make([]int32, numel(ti.Shape))
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out, nil
}

func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		f := float32(mant) / 1024 / 16384
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 31:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// SetMetadata rewrites the safetensors file at path with the given __metadata__ entries set
// (others kept), leaving the tensors as they are: the header is re-encoded and the data
// section, whose offsets are relative to its own start, copied after it. The file is
// replaced atomically (a temporary file beside it, then a rename).
func SetMetadata(path string, kv map[string]string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if _, err := parseSafetensors(b); err != nil {
		return err
	}
	n := binary.LittleEndian.Uint64(b[:8])
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		return fmt.Errorf("%w: header: %v", ErrCorruptWeights, err)
	}
	meta := map[string]string{}
	if raw, ok := hdr["__metadata__"]; ok {
		if err := json.Unmarshal(raw, &meta); err != nil {
			return fmt.Errorf("%w: __metadata__: %v", ErrCorruptWeights, err)
		}
	}
	for k, v := range kv {
		meta[k] = v
	}
	mb, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	hdr["__metadata__"] = mb
	hb, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	// The data section starts 8-byte aligned, as the format's writers leave it.
	for len(hb)%8 != 0 {
		hb = append(hb, ' ')
	}
	out := make([]byte, 8, 8+len(hb)+len(b)-8-int(n))
	binary.LittleEndian.PutUint64(out, uint64(len(hb)))
	out = append(append(out, hb...), b[8+n:]...)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

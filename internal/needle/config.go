// Package needle is the Needle model: an attention-only encoder-decoder that turns a query
// and a set of tools into tool calls. It holds the config, the safetensors weights loader,
// the SentencePiece tokenizer and the forward pass: the encoder (Session.Encode), one decoder
// step with its KV cache (Session.Step) and the contrastive retrieval head (Model.Embed).
// What to do with the logits, the decoding policy, is internal/decode's. Numerics are exact
// to the PyTorch reference in train/needle_model.py.
package needle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// Config is the model shape, read from config.json beside the weights (written by train/).
type Config struct {
	Name               string  `json:"name"`
	VocabSize          int     `json:"vocab_size"`
	DModel             int     `json:"d_model"`
	EncLayers          int     `json:"enc_layers"`
	DecLayers          int     `json:"dec_layers"`
	NHeads             int     `json:"n_heads"`
	NKVHeads           int     `json:"n_kv_heads"`
	HeadDim            int     `json:"head_dim"`
	RopeTheta          float64 `json:"rope_theta"`
	NormEps            float32 `json:"norm_eps"`
	HeadDimContrastive int     `json:"head_dim_contrastive"`
	MaxEncLen          int     `json:"max_enc_len"`
	MaxDecLen          int     `json:"max_dec_len"`
}

// Special token ids fixed by NEEDLE-SPEC.md.
const (
	TokPad      = 0
	TokEOS      = 1
	TokBOS      = 2
	TokUnk      = 3
	TokToolCall = 4
	TokTools    = 5
)

// ErrConfig marks an unusable config.
var ErrConfig = errors.New("needle: bad config")

// LoadConfig reads and validates a config.json.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(b)
}

// ParseConfig parses and validates config JSON.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return c, c.Validate()
}

// Validate checks the shape is one the engine can run.
func (c Config) Validate() error {
	switch {
	case c.VocabSize <= TokTools, c.DModel <= 0, c.EncLayers <= 0, c.DecLayers <= 0:
		return fmt.Errorf("%w: sizes must be positive (vocab %d, d %d, layers %d+%d)", ErrConfig, c.VocabSize, c.DModel, c.EncLayers, c.DecLayers)
	case c.NHeads <= 0 || c.NKVHeads <= 0 || c.NHeads%c.NKVHeads != 0:
		return fmt.Errorf("%w: %d query heads do not divide into %d kv heads", ErrConfig, c.NHeads, c.NKVHeads)
	case c.HeadDim <= 0 || c.HeadDim%16 != 0:
		// The attention kernels lay keys and values out in 16-wide GEMM panels.
		return fmt.Errorf("%w: head_dim %d must be a positive multiple of 16", ErrConfig, c.HeadDim)
	case c.MaxEncLen <= 0 || c.MaxDecLen <= 2:
		return fmt.Errorf("%w: max lengths %d/%d", ErrConfig, c.MaxEncLen, c.MaxDecLen)
	case c.HeadDimContrastive <= 0:
		return fmt.Errorf("%w: head_dim_contrastive %d", ErrConfig, c.HeadDimContrastive)
	case c.NormEps <= 0 || c.RopeTheta <= 0:
		return fmt.Errorf("%w: norm_eps and rope_theta must be positive", ErrConfig)
	}
	return nil
}

func (c Config) qDim() int  { return c.NHeads * c.HeadDim }
func (c Config) kvDim() int { return c.NKVHeads * c.HeadDim }

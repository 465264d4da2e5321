// Package models embeds the shipped Needle model (tokenizer.model, config.json,
// model.safetensors) so the router and cmd/needle run with no download.
package models

import "embed"

// FS holds the files of this directory.
//
//go:embed *
var FS embed.FS

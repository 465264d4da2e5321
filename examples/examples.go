// Package examples embeds the example toolsets so the playground can offer them with no
// files beside the binary: toolsets/ (loaded by `make run` and the image) and forms/, one
// file per tool form the registry accepts, plus one with mistakes in it.
package examples

import "embed"

// FS holds toolsets/*.json and forms/*.json.
//
//go:embed toolsets/*.json forms/*.json
var FS embed.FS

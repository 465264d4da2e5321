// Package modelname holds what names a local model in toolsets, requests and answers: the
// default model's name and the rule a named model's directory name follows. It is a leaf
// (standard library only), so the edge (internal/api) and the fine-tune jobs (internal/ftjob)
// check names without linking the model set or the engine behind it.
package modelname

import "regexp"

// Default names the process's own model (--model, or the shipped one) in toolsets and
// answers. A toolset that names no model runs on it.
const Default = "default"

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$`)

// Valid reports whether name can name a model: a directory name of letters, digits, '_',
// '.' and '-', not starting with '.' or '-', at most 128 bytes; never a path.
func Valid(name string) bool { return nameRE.MatchString(name) }

// IsDefault reports whether name (as a toolset holds it) is the default model.
func IsDefault(name string) bool { return name == "" || name == Default }

package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/needle-router/needle/internal/needle"
	"github.com/needle-router/needle/models"
)

func runTokenize(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokenize", stderr)
	model := fs.String("model", "", "model directory (default: the shipped tokenizer)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var tok *needle.Tokenizer
	var err error
	if *model != "" {
		tok, err = needle.LoadTokenizer(filepath.Join(*model, "tokenizer.model"))
	} else {
		var b []byte
		if b, err = models.FS.ReadFile("tokenizer.model"); err == nil {
			tok, err = needle.ParseTokenizer(b)
		}
	}
	if err != nil {
		return err
	}
	for _, text := range fs.Args() {
		ids := tok.Encode(text)
		fmt.Fprintln(stdout, ids)
		for _, id := range ids {
			fmt.Fprintf(stdout, "%q ", tok.Piece(int(id)))
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

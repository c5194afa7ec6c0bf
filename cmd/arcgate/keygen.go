package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/arcgate/arcgate/rpc"
)

// maxCallersFileBytes bounds the callers file keygen reads to check it.
const maxCallersFileBytes = 1 << 20

// keygen is "arcgate keygen": it makes a new random API key, appends its
// callers-file line (the key's SHA-256, see docs/operations.md#security) to
// --callers-file, or prints the line on stderr without one, and prints the
// key once, alone on stdout, so that a script can take it:
//
//	KEY=$(arcgate keygen --identity deployer --scope admin --callers-file callers)
func keygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("arcgate keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	identity := fs.String("identity", "", "the caller's name in log and audit lines: 1 to 64 letters, digits, '.', '_', '-' or '@' (required)")
	scope := fs.String("scope", "read", "scope of the key: read, write or admin")
	file := fs.String("callers-file", "", "callers file to append the key's line to, created (mode 0600) if missing; empty: print the line on stderr")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: arcgate keygen --identity NAME [--scope read|write|admin] [--callers-file FILE]")
		fmt.Fprintln(fs.Output(), "Makes a new API key, prints it once on stdout, and adds its hash to the callers file.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("keygen: unexpected arguments: %q", fs.Args())
	}
	if *identity == "" {
		return errors.New("keygen: --identity is required")
	}
	key, err := rpc.NewAPIKey()
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	line, err := rpc.CallersLine(*identity, *scope, key)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	if *file == "" {
		fmt.Fprintf(stderr, "add this line to the callers file:\n%s\n", line)
	} else {
		if err := appendCallersLine(*file, line); err != nil {
			return fmt.Errorf("keygen: %w", err)
		}
		fmt.Fprintf(stderr, "added %s (%s) to %s; arcgate reads it at start\n", *identity, *scope, *file)
	}
	_, err = fmt.Fprintln(stdout, key)
	return err
}

// appendCallersLine appends line to the callers file at path, creating it
// (mode 0600) if missing, after checking that the file with the line
// parses as arcgate will parse it (no conflicting scope for the identity).
func appendCallersLine(path, line string) (err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("callers file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("callers file %s: %w", path, cerr)
		}
	}()
	old, err := io.ReadAll(io.LimitReader(f, maxCallersFileBytes+1))
	if err != nil {
		return fmt.Errorf("callers file %s: %w", path, err)
	}
	if len(old) > maxCallersFileBytes {
		return fmt.Errorf("callers file %s: larger than %d bytes", path, maxCallersFileBytes)
	}
	var add bytes.Buffer
	switch {
	case len(old) == 0:
		add.WriteString("# identity  scope  credential (the SHA-256 of the API key)\n")
	case old[len(old)-1] != '\n':
		add.WriteByte('\n')
	}
	add.WriteString(line + "\n")
	if _, err := rpc.ParseCredentials(io.MultiReader(bytes.NewReader(old), bytes.NewReader(add.Bytes()))); err != nil {
		return fmt.Errorf("callers file %s: %w", path, err)
	}
	if _, err := f.Write(add.Bytes()); err != nil {
		return fmt.Errorf("callers file %s: %w", path, err)
	}
	return f.Sync()
}

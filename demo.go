package main

import (
	"errors"
	"io"
)

func demoCmd(args []string, out io.Writer) error {
	return errors.New("demo is not built yet")
}

package main

import (
	"embed"
	"io/fs"
)

// dist is the built dashboard. frontend/dist always holds .gitkeep, so the binary builds
// before the frontend does; the server then shows a page that says how to build it.
//
//go:embed all:frontend/dist
var dist embed.FS

func frontendFS() fs.FS {
	sub, err := fs.Sub(dist, "frontend/dist")
	if err != nil {
		panic(err) // the path is fixed at compile time
	}
	return sub
}

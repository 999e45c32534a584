// Package schema embeds the JSON Schema of release files, the single source of
// truth that odin validates against and editors can point at.
package schema

import _ "embed"

//go:embed release.schema.json
var releaseSchema string

// ID is the schema's $id, the URL it is known by.
const ID = "https://odin-deploy.github.io/odin/schema/release.schema.json"

// JSON returns the release file schema (JSON Schema draft 2020-12). Each call
// returns a fresh copy, so no caller can change what another one sees.
func JSON() []byte { return []byte(releaseSchema) }

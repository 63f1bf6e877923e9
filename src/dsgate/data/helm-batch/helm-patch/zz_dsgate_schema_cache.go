package util

// Added by dsgate's helm-batch build (dsgate tools install), not part of helm: a long-lived helm-batch
// process renders the same chart many times, and decoding and compiling its values.schema.json each
// time is most of a render. Decoded and compiled schemas are never modified after they are built;
// one of each per distinct schema text is reused.

import (
	"crypto/sha256"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	dsgateDecodedSchemas  sync.Map // [32]byte -> any (the decoded JSON document)
	dsgateCompiledSchemas sync.Map // [32]byte -> *jsonschema.Schema
)

// dsgateCached returns what BUILD returns for schema text SCHEMAJSON, building it at most once per
// distinct text while it succeeds; errors are not cached.
func dsgateCached[T any](cache *sync.Map, schemaJSON []byte, build func() (T, error)) (T, error) {
	key := sha256.Sum256(schemaJSON)
	if cached, ok := cache.Load(key); ok {
		return cached.(T), nil
	}
	value, err := build()
	if err == nil {
		cache.Store(key, value)
	}
	return value, err
}

func dsgateDecoded(schemaJSON []byte, decode func() (any, error)) (any, error) {
	return dsgateCached(&dsgateDecodedSchemas, schemaJSON, decode)
}

func dsgateCompiled(schemaJSON []byte, compile func() (*jsonschema.Schema, error)) (*jsonschema.Schema, error) {
	return dsgateCached(&dsgateCompiledSchemas, schemaJSON, compile)
}

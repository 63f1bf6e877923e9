package util

// Added by dsgate's helm-batch build (hack/tools.sh), not part of helm: a long-lived helm-batch
// process renders the same chart many times, and compiling its values.schema.json each time is
// most of a render. Compiled schemas are immutable; one per distinct schema text is reused.

import (
	"crypto/sha256"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var dsgateSchemas sync.Map // [32]byte -> *jsonschema.Schema

func dsgateCompiled(schemaJSON []byte, compile func() (*jsonschema.Schema, error)) (*jsonschema.Schema, error) {
	key := sha256.Sum256(schemaJSON)
	if cached, ok := dsgateSchemas.Load(key); ok {
		return cached.(*jsonschema.Schema), nil
	}
	schema, err := compile()
	if err == nil {
		dsgateSchemas.Store(key, schema)
	}
	return schema, err
}

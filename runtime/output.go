package runtime

import (
	"bytes"
	"encoding/json"

	"github.com/wasmflow/wasmflow/workflow"
)

// checkOutput applies the output limit and, for document IO, checks the
// output is a JSON object.
func checkOutput(out []byte, maxOutput int, io string) error {
	switch {
	case len(out) > maxOutput:
		return nodeErr(KindOutputTooLarge, nil, "output of %d bytes exceeds the limit of %d bytes", len(out), maxOutput)
	case io == workflow.IORaw:
		return nil
	case len(bytes.TrimSpace(out)) == 0:
		return nodeErr(KindInvalidOutput, nil, "output is empty, want a JSON object")
	case !json.Valid(out):
		return nodeErr(KindInvalidOutput, nil, "output is not valid JSON")
	case bytes.TrimLeft(out, " \t\r\n")[0] != '{':
		return nodeErr(KindInvalidOutput, nil, "output is not a JSON object")
	}
	return nil
}

// DecodeOutput decodes a document-IO output into an OutputDocument. It fails
// with KindInvalidOutput when out is not one: not a JSON object, fields of
// the wrong type, or both "items" and "outputs" set.
func DecodeOutput(out []byte) (*workflow.OutputDocument, error) {
	if err := checkOutput(out, len(out), workflow.IODocument); err != nil {
		return nil, err
	}
	var doc workflow.OutputDocument
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, nodeErr(KindInvalidOutput, err, "output is not an output document: %v", err)
	}
	if doc.Items != nil && doc.Outputs != nil {
		return nil, nodeErr(KindInvalidOutput, nil, `output sets both "items" and "outputs"`)
	}
	return &doc, nil
}

package api

import "github.com/wasmflow/wasmflow/store"

// PageParams are the query parameters of every list operation; embed them in
// its input.
type PageParams struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"200" doc:"Page size; 50 when absent."`
	Cursor string `query:"cursor" maxLength:"1024" doc:"The next_cursor of the previous page; absent for the first page."`
}

func (p PageParams) page() store.Page {
	return store.Page{Limit: p.Limit, Cursor: p.Cursor}
}

// Page is one page of a list: the items and the cursor of the next page,
// empty on the last one.
type Page[T any] struct {
	Items      []T    `json:"items" doc:"This page's items."`
	NextCursor string `json:"next_cursor" doc:"Pass as ?cursor= for the next page; empty on the last page."`
}

// listOutput is the response of a list operation.
type listOutput[T any] struct {
	Body Page[T]
}

// newList converts one store page into the response; items is never null.
func newList[S, T any](rows []S, next string, convert func(S) T) *listOutput[T] {
	out := &listOutput[T]{Body: Page[T]{Items: make([]T, 0, len(rows)), NextCursor: next}}
	for _, r := range rows {
		out.Body.Items = append(out.Body.Items, convert(r))
	}
	return out
}

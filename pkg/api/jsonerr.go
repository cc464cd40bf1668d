package api

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// jsonProblem says in plain words what is wrong with a request body that
// encoding/json refused, naming the field. encoding/json's own messages
// name Go types ("cannot unmarshal string into Go struct field .title of
// type int"), which mean nothing to a client.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tim *time.ParseError
	switch {
	case errors.As(err, &syn):
		msg := strings.TrimPrefix(syn.Error(), "json: ")
		return "invalid JSON body at byte " + strconv.FormatInt(syn.Offset, 10) + ": " + msg
	case errors.As(err, &typ):
		want := jsonKind(typ.Type)
		if typ.Field == "" {
			return "the body must be " + want + ", not " + article(typ.Value)
		}
		return strconv.Quote(typ.Field) + " must be " + want + ", not " + article(typ.Value)
	case errors.As(err, &tim):
		return "a date and time must be written as in RFC 3339, like \"2026-12-05T22:00:00Z\""
	}
	return "invalid JSON body"
}

// jsonKind names what a Go type takes in JSON.
func jsonKind(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a JSON value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another kind of value"
}

// article puts "a" or "an" before encoding/json's name of a JSON value
// ("string", "number", "array", "object", "bool", "number 1.5").
func article(value string) string {
	switch {
	case value == "bool":
		return "true or false"
	case strings.HasPrefix(value, "number "):
		return "the number " + strings.TrimPrefix(value, "number ")
	case value == "":
		return "this value"
	case strings.ContainsRune("aeiou", rune(value[0])):
		return "an " + value
	}
	return "a " + value
}

package zmq

import (
	"reflect"
	"testing"
	"time"
)

// TestConfigCopiesEveryField sets every field and checks withDefaults
// keeps it: a new field cannot be silently dropped.
func TestConfigCopiesEveryField(t *testing.T) {
	var c Config
	v := reflect.ValueOf(&c).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int:
			f.SetInt(7)
		case reflect.Int64:
			if f.Type() == reflect.TypeFor[time.Duration]() {
				f.SetInt(int64(3 * time.Second))
			} else {
				f.SetInt(7)
			}
		case reflect.Slice:
			f.Set(reflect.ValueOf([]byte("x")))
		case reflect.Map:
			f.Set(reflect.ValueOf(map[string]string{"k": "v"}))
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.Func:
			f.Set(reflect.MakeFunc(f.Type(), func([]reflect.Value) []reflect.Value { return nil }))
		default:
			t.Fatalf("field %s: kind %v not covered by this test", v.Type().Field(i).Name, f.Kind())
		}
	}
	got, err := c.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	g := reflect.ValueOf(got)
	for i := 0; i < v.NumField(); i++ {
		name := v.Type().Field(i).Name
		a, b := v.Field(i), g.Field(i)
		switch a.Kind() {
		case reflect.Func:
			if b.IsNil() {
				t.Errorf("%s dropped", name)
			}
		case reflect.Pointer:
			if b.IsNil() {
				t.Errorf("%s dropped", name)
			}
		default:
			if !reflect.DeepEqual(a.Interface(), b.Interface()) {
				t.Errorf("%s: set %v, got %v", name, a.Interface(), b.Interface())
			}
		}
	}
}

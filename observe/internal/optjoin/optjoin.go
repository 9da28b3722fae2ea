package optjoin

// Join returns an option that applies opts in order and stops at the first
// error. P, the options type, is inferred from O, so it may be unexported.
func Join[O ~func(P) error, P any](opts ...O) O {
	return func(p P) error {
		for _, o := range opts {
			if err := o(p); err != nil {
				return err
			}
		}
		return nil
	}
}

// Fail returns an option that makes the constructor it is given to fail
// with err.
func Fail[O ~func(P) error, P any](err error) O {
	return func(P) error { return err }
}

// Of returns opt(v), or, when err (from building v) is not nil, an option
// that fails with err: the body of a function that builds a value and
// returns one of its options.
func Of[V any, O ~func(P) error, P any](v V, err error, opt func(V) O) O {
	if err != nil {
		return Fail[O](err)
	}
	return opt(v)
}

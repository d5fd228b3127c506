"""Branch previews: a copy of an environment per git branch, named from the branch, with its
own state, an expiry, and optionally only the components the branch changed."""

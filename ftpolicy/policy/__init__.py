"""Policy evaluation: the Rego policy set, the engines that evaluate it, bundles and Rego unit tests."""

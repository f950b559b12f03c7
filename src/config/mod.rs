//! Configuration (factors II, III and X): model config files with named roles and profiles, pin checks,
//! settings from the environment, and the recommended stack built from them.

//! claude-wif filter

"""Speech-recognition noise generated from clean French requests (issue 28).

``generator`` draws the variants; ``lexicon`` reads the French pronunciation lexicon it
draws them from (Lexique 3.83, loaded on first use, never at import); ``spelling`` turns
sounds into letters for names the lexicon lacks.
"""

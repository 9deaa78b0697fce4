"""The questions `bench/answers.py` asks and the answer tests use: real questions about a
person's life on varied topics, and foolish ones (nonsense, or with a factual answer), as a
new user would say them."""

REAL = (
    # work
    "Will I find a new job this year?",
    "Should I ask my boss for a raise?",
    "Is it a good idea to quit my job and start my own business?",
    "Will my interview on Monday go well?",
    "Should I take the job offer in another city?",
    "Am I going to get the promotion?",
    # love
    "Should I text him first?",
    "Does my crush like me back?",
    "Will I meet someone special this year?",
    "Should I tell her how I feel?",
    "Is my boyfriend going to propose?",
    "Should I get back together with my ex?",
    # money
    "Should I buy a new car?",
    "Will I win the lottery?",
    "Is now a good time to invest in stocks?",
    "Should I lend my brother money?",
    "Will I be able to pay off my debt?",
    "Should I save my money or spend it on a holiday?",
    # travel
    "Will my flight be delayed tomorrow?",
    "Should I travel to Japan next spring?",
    "Is it safe to go backpacking alone?",
    "Will our road trip be fun?",
    "Should I move abroad?",
    # health
    "Will I feel better tomorrow?",
    "Should I start running every morning?",
    "Is it time for me to see a doctor about my back?",
    "Will my diet work this time?",
    "Should I go to the gym tonight?",
    # weather
    "Will it rain tomorrow?",
    "Is it going to snow on Christmas?",
    "Should I bring an umbrella today?",
    "Will it be sunny for our picnic this weekend?",
    # family
    "Will my parents like my new partner?",
    "Should I call my mother tonight?",
    "Are we ready to have a baby?",
    "Should I move back home with my family?",
    "Will my sister forgive me?",
    # study
    "Will I pass my driving test?",
    "Should I go back to school?",
    "Will I get into the university I applied to?",
    "Should I study tonight or go out with friends?",
    "Am I going to finish my thesis on time?",
    # games and sport
    "Will my team win the match on Saturday?",
    "Should I play one more game before bed?",
    "Will I beat my friend at chess?",
    "Is today my lucky day at cards?",
    # food
    "Should I order pizza tonight?",
    "Will my cake turn out well?",
    "Should I try the new restaurant downtown?",
    "Is it a good idea to become vegetarian?",
    # home
    "Should I buy a house this year?",
    "Will we find a nice apartment soon?",
    "Should I paint my bedroom blue?",
    # friends
    "Is my best friend keeping a secret from me?",
    "Should I invite everyone to my birthday party?",
    "Will I make new friends in my new town?",
    # pets
    "Should I get a cat?",
    "Will my dog learn to sit?",
    # life in general
    "Will I be happy?",
    "Am I making the right decision?",
    "Is this going to be a good year for me?",
    "Should I take the risk?",
    "Will everything work out in the end?",
    "Should I wait a little longer?",
)

FOOLISH = (
    # factual: arithmetic, capitals, definitions, trivia
    "What is two plus two?",
    "What is twelve times twelve?",
    "What is the capital of France?",
    "What is the capital of Australia?",
    "What does photosynthesis mean?",
    "Who wrote Romeo and Juliet?",
    "How many legs does a spider have?",
    "What is the boiling point of water?",
    # nonsense
    "What is seven times banana?",
    "Is purple heavier than Tuesday?",
    "Can a spoon dream of fish?",
    "How loud is the colour blue?",
    "Why does the moon taste like Wednesday?",
    "Does a triangle know how to swim?",
    "Are clouds jealous of pancakes?",
    "How many elephants fit inside a thought?",
)

# Words no answer may contain: profanity and insults (a fool in a proverb is not the asker).
PROFANITY = frozenset(
    "fuck fucking shit crap damn bitch bastard asshole ass dick piss cunt slut whore idiot "
    "idiots stupid moron dumb loser losers jerk sucks".split()
)
